/* A backend that computes nothing real, for testing the driver's handling of
 * plugin behaviour: deterministic finite logits, and faults on request.
 * ZB_FAKE_FAULT (read at create): "oom_above=N" fails create with ZB_ERR_OOM
 * when capacity > N; "error_at=K" fails the K-th decode call; "nan_at=K"
 * returns NaN logits at the K-th decode call; "crash_at=K" dies of SIGSEGV
 * at the K-th decode call, as a plugin with a wild pointer would. The
 * decode count starts again with every session, so with --reps 1 --warmup 0
 * only the runs generating at least K tokens crash. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zbench_plugin.h"

struct zb_session {
    int batch, capacity, vocab, pos, decodes;
    char fault[32];
    int fault_at;
};

static zb_status info(int32_t device, zb_device_info *i, zb_error *err)
{
    (void)device, (void)err;
    memset(i, 0, sizeof *i);
    snprintf(i->name, sizeof i->name, "fake device");
    return ZB_OK;
}

static int fault_value(const char *spec, const char *key)
{
    size_t n = strlen(key);
    return spec && !strncmp(spec, key, n) && spec[n] == '=' ? atoi(spec + n + 1) : -1;
}

static zb_status create(const zb_model_desc *d, const zb_weights *w, const zb_session_opts *o, zb_session **out,
                        zb_error *err)
{
    (void)w;
    const char *spec = getenv("ZB_FAKE_FAULT");
    int limit = fault_value(spec, "oom_above");
    if (limit >= 0 && o->capacity > limit) {
        snprintf(err->msg, sizeof err->msg, "out of device memory: %lld bytes needed, %d free",
                 (long long)o->capacity * 1000, limit * 1000);
        return ZB_ERR_OOM;
    }
    zb_session *s = calloc(1, sizeof *s);
    if (!s) return ZB_ERR_OOM;
    s->batch = o->batch, s->capacity = o->capacity, s->vocab = d->vocab_size;
    const char *keys[] = {"error_at", "nan_at", "crash_at"};
    for (int i = 0; i < 3; i++)
        if (fault_value(spec, keys[i]) >= 0) {
            snprintf(s->fault, sizeof s->fault, "%s", keys[i]);
            s->fault_at = fault_value(spec, keys[i]);
        }
    *out = s;
    return ZB_OK;
}

static void fill(zb_session *s, float *logits, int32_t *next, int poison)
{
    for (int b = 0; b < s->batch; b++) {
        for (int v = 0; logits && v < s->vocab; v++)
            logits[(size_t)b * s->vocab + v] = poison ? NAN : (float)((v * 7 + s->pos) % 13);
        if (next) next[b] = (s->pos + b) % s->vocab;
    }
}

static zb_status prefill(zb_session *s, const int32_t *t, int32_t n, float *logits, int32_t *next,
                         zb_step_timing *tm, zb_error *err)
{
    (void)t;
    if (tm) tm->device_ms = -1;
    if (s->pos + n > s->capacity) {
        snprintf(err->msg, sizeof err->msg, "capacity exceeded");
        return ZB_ERR_CAPACITY;
    }
    s->pos += n;
    fill(s, logits, next, 0);
    return ZB_OK;
}

static zb_status decode(zb_session *s, const int32_t *t, float *logits, int32_t *next, zb_step_timing *tm,
                        zb_error *err)
{
    s->decodes++;
    if (s->decodes == s->fault_at && !strcmp(s->fault, "error_at")) {
        snprintf(err->msg, sizeof err->msg, "injected failure at decode %d", s->decodes);
        return ZB_ERR_DEVICE;
    }
    if (s->decodes == s->fault_at && !strcmp(s->fault, "crash_at")) {
        /* A real wild store would be caught first, under ASan + UBSan, by
         * the sanitizers, which report and exit(1) instead of dying of the
         * signal. So: the default action back, and the signal itself. */
        signal(SIGSEGV, SIG_DFL);
        raise(SIGSEGV);
    }
    zb_status st = prefill(s, t, 1, NULL, next, tm, err);
    if (st == ZB_OK) fill(s, logits, NULL, s->decodes >= s->fault_at && s->fault_at > 0 && !strcmp(s->fault, "nan_at"));
    return st;
}

static zb_status reset(zb_session *s, zb_error *err)
{
    (void)err;
    s->pos = 0;
    return ZB_OK;
}

static zb_status memory(zb_session *s, zb_memory_report *m, zb_error *err)
{
    (void)err;
    memset(m, 0, sizeof *m);
    m->kv_tokens = s->capacity;
    return ZB_OK;
}

static void destroy(zb_session *s) { free(s); }

static const zb_plugin_api api = {
    ZB_ABI_VERSION, "fake_backend", "test double with injectable faults", ZB_DTYPE_BIT(ZB_DTYPE_F32), 8, 0,
    info, create, prefill, decode, reset, memory, destroy, NULL,
};

ZB_EXPORT const zb_plugin_api *zbench_plugin_entry(void) { return &api; }
