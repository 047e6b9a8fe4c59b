/*
 * Stub backend functions for the deliberately broken test plugins: each
 * plugin is correct except for the one defect it exists to show, so the
 * loader's message can only be about that defect. static inline keeps a
 * plugin that leaves one of them out free of unused-function warnings.
 */
#ifndef ZB_TEST_STUB_API_H
#define ZB_TEST_STUB_API_H

#include <stdio.h>

#include "zbench_plugin.h"

static inline zb_status stub_refuse(zb_error *err)
{
    snprintf(err->msg, sizeof err->msg, "test stub plugin: not a real backend");
    return ZB_ERR_UNSUPPORTED;
}

static inline zb_status stub_device_info(int32_t device, zb_device_info *info, zb_error *err)
{
    (void)device, (void)info;
    return stub_refuse(err);
}

static inline zb_status stub_create(const zb_model_desc *desc, const zb_weights *weights,
                                    const zb_session_opts *opts, zb_session **out, zb_error *err)
{
    (void)desc, (void)weights, (void)opts;
    *out = NULL;
    return stub_refuse(err);
}

static inline zb_status stub_prefill(zb_session *s, const int32_t *tokens, int32_t n, float *logits,
                                     int32_t *next, zb_step_timing *timing, zb_error *err)
{
    (void)s, (void)tokens, (void)n, (void)logits, (void)next, (void)timing;
    return stub_refuse(err);
}

static inline zb_status stub_decode(zb_session *s, const int32_t *tokens, float *logits, int32_t *next,
                                    zb_step_timing *timing, zb_error *err)
{
    (void)s, (void)tokens, (void)logits, (void)next, (void)timing;
    return stub_refuse(err);
}

static inline zb_status stub_reset(zb_session *s, zb_error *err)
{
    (void)s;
    return stub_refuse(err);
}

static inline zb_status stub_memory(zb_session *s, zb_memory_report *out, zb_error *err)
{
    (void)s, (void)out;
    return stub_refuse(err);
}

static inline void stub_destroy(zb_session *s) { (void)s; }

#endif
