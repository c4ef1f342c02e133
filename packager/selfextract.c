#include "packager/selfextract.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/fileio.h"

const char *const pg_selfextract_dirs[] = {
    "common",   "dataset", "kernels", "kernels/cpu", "kernels/cuda", "train",
    "packager", "verifier", "stats",  "records",     "pipeline",     "cli",   NULL};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int wanted(const char *name)
{
    size_t n = strlen(name);
    return (n > 2 && (strcmp(name + n - 2, ".c") == 0 || strcmp(name + n - 2, ".h") == 0)) ||
           (n > 3 && strcmp(name + n - 3, ".cu") == 0) ||
           (n > 4 && strcmp(name + n - 4, ".cuh") == 0) ||
           (n > 6 && strcmp(name + n - 6, ".proto") == 0);
}

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

/* Appends a malloc'ed string (NULL when its allocation failed) to a growing list. */
static int push(char ***v, size_t *n, size_t *cap, char *item, const char *root)
{
    if (item && *n == *cap) {
        size_t ncap = *cap ? 2 * *cap : 64;
        char **g = realloc(*v, ncap * sizeof **v);
        if (g) {
            *v = g;
            *cap = ncap;
        } else {
            free(item);
            item = NULL;
        }
    }
    if (!item)
        return pg_fail("%s: out of memory listing the sources", root);
    (*v)[(*n)++] = item;
    return 0;
}

/* The wanted files of root/sub, as sub/NAME. */
static int list_sources(const char *root, const char *sub, char ***v, size_t *n, size_t *cap)
{
    char *dir = pg_path_join(root, sub);
    if (!dir)
        return pg_fail("%s: out of memory listing the sources", root);
    DIR *dp = opendir(dir);
    int rc = dp ? 0 : pg_fail("%s: cannot open source directory", dir);
    struct dirent *e;
    while (rc == 0 && (e = readdir(dp)) != NULL)
        if (wanted(e->d_name))
            rc = push(v, n, cap, pg_path_join(sub, e->d_name), root);
    if (dp)
        closedir(dp);
    free(dir);
    return rc;
}

int pg_source_list(const char *root, char ***out, size_t *count)
{
    char **v = NULL;
    size_t n = 0, cap = 0;
    int rc = push(&v, &n, &cap, strdup("GNUmakefile"), root);
    for (int d = 0; rc == 0 && pg_selfextract_dirs[d]; d++)
        rc = list_sources(root, pg_selfextract_dirs[d], &v, &n, &cap);
    if (rc != 0) {
        free_strings(v, n);
        return -1;
    }
    qsort(v, n, sizeof *v, cmp_str);
    *out = v;
    *count = n;
    return 0;
}

int pg_source_archive(const char *root, unsigned char **out, size_t *len)
{
    *out = NULL;
    char **files;
    size_t nfiles;
    if (pg_source_list(root, &files, &nfiles) != 0)
        return -1;
    size_t cap = 1 << 16;
    unsigned char **data = calloc(nfiles, sizeof *data);
    size_t *sizes = calloc(nfiles, sizeof *sizes);
    int rc = data && sizes ? 0 : pg_fail("%s: out of memory archiving the sources", root);
    for (size_t i = 0; i < nfiles && rc == 0; i++) {
        char *p = pg_path_join(root, files[i]);
        rc = p ? pg_read_file(p, (size_t)64 << 20, &data[i], &sizes[i])
               : pg_fail("%s: out of memory archiving the sources", root);
        cap += sizes[i] + 1024;
        free(p);
    }
    unsigned char *buf = rc == 0 ? malloc(cap) : NULL;
    struct archive *a = buf ? archive_write_new() : NULL;
    size_t used = 0;
    if (rc == 0 && !a)
        rc = pg_fail("%s: out of memory archiving the sources", root);
    if (rc == 0) {
        archive_write_add_filter_xz(a);
        archive_write_set_format_ustar(a);
        archive_write_set_bytes_in_last_block(a, 1);
        if (archive_write_open_memory(a, buf, cap, &used) != ARCHIVE_OK)
            rc = pg_fail("libarchive: %s", archive_error_string(a));
        for (size_t i = 0; i < nfiles && rc == 0; i++) {
            struct archive_entry *e = archive_entry_new();
            if (!e) {
                rc = pg_fail("%s: out of memory archiving the sources", root);
                break;
            }
            archive_entry_set_pathname(e, files[i]);
            archive_entry_set_size(e, (la_int64_t)sizes[i]);
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_perm(e, 0644);
            archive_entry_set_mtime(e, 0, 0);
            archive_entry_set_uid(e, 0);
            archive_entry_set_gid(e, 0);
            if (archive_write_header(a, e) != ARCHIVE_OK ||
                archive_write_data(a, data[i], sizes[i]) != (la_ssize_t)sizes[i])
                rc = pg_fail("libarchive: %s: %s", files[i], archive_error_string(a));
            archive_entry_free(e);
        }
        if (archive_write_close(a) != ARCHIVE_OK && rc == 0)
            rc = pg_fail("libarchive: %s", archive_error_string(a));
    }
    if (a)
        archive_write_free(a);
    for (size_t i = 0; data && i < nfiles; i++)
        free(data[i]);
    free_strings(files, nfiles);
    free(data);
    free(sizes);
    if (rc != 0) {
        free(buf);
        return -1;
    }
    *out = buf;
    *len = used;
    return 0;
}

/* base85 as Python's base64.b85encode (RFC 1924 alphabet). */
static char *b85(const unsigned char *in, size_t n, size_t *outlen)
{
    static const char alpha[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                "!#$%&()*+-;<=>?@^_`{|}~";
    size_t groups = (n + 3) / 4, pad = groups * 4 - n;
    char *out = malloc(groups * 5 + 1);
    size_t k = 0;
    if (!out)
        return NULL;
    for (size_t g = 0; g < groups; g++) {
        uint32_t v = 0;
        for (int i = 0; i < 4; i++) {
            size_t idx = g * 4 + (size_t)i;
            v = (v << 8) | (idx < n ? in[idx] : 0);
        }
        char chunk[5];
        for (int i = 4; i >= 0; i--) {
            chunk[i] = alpha[v % 85];
            v /= 85;
        }
        memcpy(out + k, chunk, 5);
        k += 5;
    }
    k -= pad; /* as b85encode without pad=True */
    out[k] = '\0';
    *outlen = k;
    return out;
}

static const char kScriptHead[] =
    "#!/usr/bin/env python3\n"
    "\"\"\"Self-extracting pgolf submission (standard library only).\n"
    "\n"
    "Run: torchrun --standalone --nproc_per_node=8 train_gpt.py   (or python3 train_gpt.py)\n"
    "Unpacks the pgolf sources carried below into a temporary directory, builds them with\n"
    "make, trains with the settings baked in (the environment overrides them; DATA_PATH and\n"
    "TOKENIZER_PATH name the data), scores the final model and prints the log lines.\n"
    "\"\"\"\n"
    "import base64, io, os, shutil, subprocess, sys, tarfile, tempfile\n"
    "\n"
    "MAX_ENTRY_BYTES = 8 << 20\n"
    "MAX_TOTAL_BYTES = 64 << 20\n";

static const char kScriptBody[] =
    "\n"
    "\n"
    "def fail(msg):\n"
    "    sys.exit('train_gpt.py: ' + msg)\n"
    "\n"
    "\n"
    "def extract(dest):\n"
    "    total = 0\n"
    "    with tarfile.open(fileobj=io.BytesIO(base64.b85decode(ARCHIVE)), mode='r:xz') as tf:\n"
    "        for m in tf.getmembers():\n"
    "            parts = m.name.split('/')\n"
    "            if m.name.startswith('/') or '..' in parts or m.name == '':\n"
    "                fail('refusing archive entry with an unsafe path: %r' % m.name)\n"
    "            if m.issym() or m.islnk():\n"
    "                fail('refusing archive entry that is a link: %r' % m.name)\n"
    "            if not (m.isfile() or m.isdir()):\n"
    "                fail('refusing archive entry that is not a file: %r' % m.name)\n"
    "            if m.size > MAX_ENTRY_BYTES or total + m.size > MAX_TOTAL_BYTES:\n"
    "                fail('refusing oversize archive entry: %r (%d bytes)' % (m.name, m.size))\n"
    "            total += m.size\n"
    "        for m in tf.getmembers():\n"
    "            target = os.path.join(dest, m.name)\n"
    "            if m.isdir():\n"
    "                os.makedirs(target, exist_ok=True)\n"
    "                continue\n"
    "            os.makedirs(os.path.dirname(target), exist_ok=True)\n"
    "            with tf.extractfile(m) as src, open(target, 'wb') as dst:\n"
    "                shutil.copyfileobj(src, dst)\n"
    "\n"
    "\n"
    "def main():\n"
    "    if int(os.environ.get('RANK', '0')) != 0:\n"
    "        return  # the CPU build runs on rank 0 only\n"
    "    env = dict(os.environ)\n"
    "    for k, v in SETTINGS.items():\n"
    "        env.setdefault(k, v)\n"
    "    work = tempfile.mkdtemp(prefix='pgolf-')\n"
    "    try:\n"
    "        extract(work)\n"
    "        # a plain build, whatever make variables the caller's environment carries\n"
    "        benv = {k: v for k, v in env.items() if k not in ('MAKEFLAGS', 'MFLAGS', 'MAKELEVEL', 'SAN')}\n"
    "        build = subprocess.run(['make', '-C', work, '-j', str(os.cpu_count() or 1), 'pgolf'],\n"
    "                               env=benv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,\n"
    "                               text=True)\n"
    "        if build.returncode != 0:\n"
    "            fail('build failed:\\n' + build.stdout[-4000:])\n"
    "        pgolf = os.path.join(work, 'pgolf')\n"
    "        out = os.path.abspath(env.get('PGOLF_OUT', 'logs/pgolf_run'))\n"
    "        if os.path.exists(os.path.join(out, 'state.ckpt')):\n"
    "            fail(out + ' holds an earlier run: remove it or set PGOLF_OUT')\n"
    "        r = subprocess.run([pgolf, 'train', '--preset', env.get('PGOLF_PRESET', 'baseline'),\n"
    "                            '--out', out], env=env)\n"
    "        if r.returncode != 0:\n"
    "            fail('training failed')\n"
    "        # the submitted model is the artifact: pack it (byte ledger against this file),\n"
    "        # then score its dequantized weights\n"
    "        scheme = env.get('PGOLF_SCHEME', 'int8')\n"
    "        art, rt = os.path.join(out, 'model.art'), os.path.join(out, 'roundtrip.ckpt')\n"
    "        steps = [[pgolf, 'pack', os.path.join(out, 'final.ckpt'), '--out', art, '--scheme',\n"
    "                  scheme, '--code', os.path.abspath(__file__)],\n"
    "                 [pgolf, 'unpack', art, '--out', rt],\n"
    "                 [pgolf, 'eval', rt, '--data', env['DATA_PATH'], '--tokenizer',\n"
    "                  env['TOKENIZER_PATH'], '--quiet', '--tag', scheme + '_roundtrip']]\n"
    "        for cmd in steps:\n"
    "            r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True)\n"
    "            if r.returncode != 0:\n"
    "                fail(cmd[1] + ' failed')\n"
    "            for line in r.stdout.splitlines():\n"
    "                if not line.startswith(('group ', rt)):\n"
    "                    print(line, flush=True)\n"
    "    finally:\n"
    "        shutil.rmtree(work, ignore_errors=True)\n"
    "\n"
    "\n"
    "if __name__ == '__main__':\n"
    "    main()\n";

/* A Python string literal of s (settings are NAME=VALUE without quotes or backslashes). */
static int check_setting(const char *s)
{
    const char *eq = strchr(s, '=');
    if (!eq || eq == s)
        return pg_fail("setting '%s' is not NAME=VALUE", s);
    for (const char *p = s; *p; p++)
        if (*p == '\'' || *p == '\\' || *p == '\n' || (unsigned char)*p < 32)
            return pg_fail("setting '%s' has a character a baked setting cannot hold", s);
    return 0;
}

int pg_selfextract_write(const char *path, const char *root, const char *const *settings,
                         int nsettings)
{
    unsigned char *arc;
    size_t alen;
    if (pg_source_archive(root, &arc, &alen) != 0)
        return -1;
    int rc = pg_selfextract_write_archive(path, arc, alen, settings, nsettings);
    free(arc);
    return rc;
}

int pg_selfextract_write_archive(const char *path, const unsigned char *arc, size_t alen,
                                 const char *const *settings, int nsettings)
{
    for (int i = 0; i < nsettings; i++)
        if (check_setting(settings[i]) != 0)
            return -1;
    size_t elen, cap = sizeof kScriptHead + sizeof kScriptBody + 4096;
    for (int i = 0; i < nsettings; i++)
        cap += strlen(settings[i]) + 8;
    char *enc = b85(arc, alen, &elen);
    char *text = enc ? malloc(cap + elen) : NULL;
    if (!text) {
        free(enc);
        return pg_fail("%s: out of memory", path);
    }
    cap += elen;
    size_t k = (size_t)snprintf(text, cap, "%sSETTINGS = {", kScriptHead);
    for (int i = 0; i < nsettings; i++) {
        const char *eq = strchr(settings[i], '=');
        k += (size_t)snprintf(text + k, cap - k, "%s'%.*s': '%s'", i ? ", " : "",
                              (int)(eq - settings[i]), settings[i], eq + 1);
    }
    k += (size_t)snprintf(text + k, cap - k, "}\nARCHIVE = b'");
    memcpy(text + k, enc, elen);
    k += elen;
    k += (size_t)snprintf(text + k, cap - k, "'%s", kScriptBody);
    free(enc);
    int rc = pg_write_file_atomic(path, text, k);
    free(text);
    return rc;
}
