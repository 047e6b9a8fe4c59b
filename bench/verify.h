/* zbench verify: golden-logit checks of a plugin on a checkpoint. */
#ifndef ZB_VERIFY_H
#define ZB_VERIFY_H

/* ||out - ref|| / ||ref|| over n values (||out - ref|| when ref is zero). */
double zb_rel_err(const float *out, const float *ref, int n);

#endif
