/* "zb.trace_layers.v1" on the CUDA engine: the driver's trace hooks live
 * in the session's range state (nvtx.h), next to the NVTX handles, since
 * both fire at the same push/pop points. */
#include <string.h>

#include "check.h"
#include "engine.h"

zb_status zbe_set_trace_hooks(zb_session *s, const zb_trace_hooks *hooks, zb_error *err)
{
    if (!s) return zbe_fail(err, ZB_ERR_INVALID, "set_hooks without a session");
    if (!hooks) {
        memset(&s->nvtx.hooks, 0, sizeof s->nvtx.hooks);
        return ZB_OK;
    }
    /* half a pair would unbalance every range after it */
    if (!hooks->push != !hooks->pop) return zbe_fail(err, ZB_ERR_INVALID, "trace hooks need both push and pop");
    s->nvtx.hooks = *hooks;
    return ZB_OK;
}
