/* Ceilings of the machine a plugin runs on: copy bandwidth and dense rate.
 * GPU plugins measure their device (extension zb.calibrate.v1); for CPU
 * plugins the driver measures memcpy bandwidth and an fp32 FMA rate. */
#ifndef ZB_CALIBRATE_H
#define ZB_CALIBRATE_H

#include "recorder.h"
#include "zbench_plugin.h"

typedef struct zb_ceilings {
    double copy_gbps;   /* bytes read + written per second / 1e9 */
    double gemm_tflops; /* dense rate: bf16 GEMM on GPUs, fp32 FMA on CPUs */
    char method[256];
} zb_ceilings;

/* Measures the CPU: memcpy of a 256 MiB buffer, independent FMA chains. */
void zb_calibrate_cpu(zb_ceilings *c);

/* Measures the device of a plugin (the CPU for CPU plugins). */
zb_status zb_calibrate_plugin(const zb_plugin_api *api, int device, zb_ceilings *c, zb_error *err);

/* The calibration of the plugin's device from the database, measuring and
 * storing it first when the database has none. */
zb_status zb_ceilings_for(zb_db *db, const zb_plugin_api *api, const zb_device_info *dev, const char *host,
                          zb_ceilings *c, zb_error *err);

#endif
