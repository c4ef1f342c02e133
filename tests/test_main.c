/* Runs every suite. Tests that need ../shared print a SKIP line when it is absent. */
#include <stdlib.h>

#include "tests/util.h"

int main(void)
{
    SRunner *sr = srunner_create(suite_shard());
    srunner_add_suite(sr, suite_tokenizer());
    srunner_add_suite(sr, suite_model());
    srunner_add_suite(sr, suite_checkpoint());
    srunner_add_suite(sr, suite_eval());
    srunner_add_suite(sr, suite_cli());
    srunner_add_suite(sr, suite_settings());
    srunner_add_suite(sr, suite_stats());
    srunner_add_suite(sr, suite_records());
    srunner_add_suite(sr, suite_train());
    srunner_add_suite(sr, suite_recipe());
    srunner_add_suite(sr, suite_gptq());
    srunner_add_suite(sr, suite_caseops());
    srunner_add_suite(sr, suite_sp_encode());
    srunner_add_suite(sr, suite_ttt());
    srunner_add_suite(sr, suite_ttt_phased());
    srunner_add_suite(sr, suite_rerun());
    srunner_add_suite(sr, suite_verify());
    srunner_add_suite(sr, suite_packager());
    srunner_add_suite(sr, suite_package());
    srunner_add_suite(sr, suite_run());
    srunner_add_suite(sr, suite_device());
    srunner_add_suite(sr, suite_hostile());
    srunner_add_suite(sr, suite_malformed());
    srunner_add_suite(sr, suite_fuzz());
    srunner_add_suite(sr, suite_torch());
    srunner_add_suite(sr, suite_dist());
    srunner_add_suite(sr, suite_shrink());
    srunner_add_suite(sr, suite_first_contact());
#if defined(PGOLF_CUDA) && !defined(PGOLF_CUDA_EMU) /* the engine build has no NVRTC */
    srunner_add_suite(sr, suite_cuda());
#endif
    /* One process: temp files and skips stay simple, and sanitizers see every test. */
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
