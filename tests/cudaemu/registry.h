// A device translation unit's kernels as an engine module (engine.h): each kernel's
// arguments are unpacked with its real parameter types, and device pointers become the
// addresses the kernel dereferences. Included after the kernels' definitions, with the
// list that kernel_list.sh wrote.
#pragma once

#include <new>
#include <tuple>
#include <type_traits>
#include <utility>

#include "tests/cudaemu/engine.h"

template <auto F> struct pg_emu_thunk;

template <typename... A, void (*F)(A...)> struct pg_emu_thunk<F> {
    using args_t = std::tuple<std::decay_t<A>...>;
    static_assert(sizeof(args_t) <= PG_EMU_ARG_BYTES, "a kernel's parameters exceed 4 KiB");

    // args[i] read as parameter i's type; a pointer must be device memory (or NULL)
    template <typename T> static T arg(void **args, size_t i, const char *kernel, int *bad)
    {
        T v = *static_cast<const T *>(args[i]);
        if constexpr (std::is_pointer_v<T>) {
            if (v && !pg_emu_is_device((const void *)v)) {
                pg_emu_report("cudaemu memcheck: kernel %s: argument %zu (%p) is not device "
                              "memory", kernel, i, (const void *)v);
                *bad = 1;
                return nullptr;
            }
            return static_cast<T>(pg_emu_host_addr((const void *)v, kernel));
        } else {
            return v;
        }
    }

    template <size_t... I>
    static int unpack_at(void **args, void *buf, const char *kernel, std::index_sequence<I...>)
    {
        int bad = 0;
        new (buf) args_t(arg<std::tuple_element_t<I, args_t>>(args, I, kernel, &bad)...);
        return bad ? -1 : 0;
    }

    static int unpack(void **args, void *buf, const char *kernel)
    {
        return unpack_at(args, buf, kernel, std::index_sequence_for<A...>{});
    }

    static void invoke(const void *buf) { std::apply(F, *static_cast<const args_t *>(buf)); }
};

#define PG_EMU_KERNEL(name, bound)                                                          \
    {#name, bound, pg_emu_thunk<name>::unpack, pg_emu_thunk<name>::invoke},

// The module: PG_EMU_MODULE("name", table), the table an array of PG_EMU_KERNEL rows
// (the list kernel_list.sh wrote); placed in a section the engine walks
// (pg_emu_module_find).
#define PG_EMU_MODULE(mod, table)                                                           \
    static const pg_emu_module pg_emu_module_ = {mod, table,                                \
                                                 (int)(sizeof table / sizeof *table)};      \
    __attribute__((used, section("pgcu_modules"))) static const pg_emu_module *const        \
        pg_emu_module_ref_ = &pg_emu_module_;
