/* device_info: what the driver shows for a GPU plugin, and how it learns
 * that there is no usable GPU here (a clean failure, never a crash). */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "engine.h"

/* The NVIDIA kernel module's version ("550.54.15"), which the CUDA runtime
 * does not report; empty when /proc does not say. */
static void kernel_driver_version(char *out, size_t len)
{
    out[0] = '\0';
    FILE *f = fopen("/proc/driver/nvidia/version", "r");
    if (!f) return;
    char line[256];
    if (fgets(line, sizeof line, f)) {
        /* "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  <date>" */
        const char *m = strstr(line, "Kernel Module");
        if (m) {
            m += strlen("Kernel Module");
            while (*m == ' ') m++;
            size_t n = strcspn(m, " \n");
            snprintf(out, len, "%.*s", (int)n, m);
        }
    }
    fclose(f);
}

static void cuda_version(char *out, size_t len, int v)
{
    snprintf(out, len, "%d.%d", v / 1000, (v % 1000) / 10);
}

zb_status zbe_device_info(int32_t device, zb_device_info *info, zb_error *err)
{
    memset(info, 0, sizeof *info);
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return zbe_fail(err, ZB_ERR_DEVICE, "no usable CUDA device: cudaGetDeviceCount failed: %s (%s)",
                        cudaGetErrorString(e), cudaGetErrorName(e));
    }
    if (n < 1) return zbe_fail(err, ZB_ERR_DEVICE, "no CUDA device found");
    if (device < 0 || device >= n)
        return zbe_fail(err, ZB_ERR_INVALID, "CUDA device %d does not exist (%d device%s)", device, n,
                        n == 1 ? "" : "s");
    struct cudaDeviceProp prop;
    ZBE_CUDA(cudaGetDeviceProperties(&prop, device));
    snprintf(info->name, sizeof info->name, "%.127s", prop.name);
    info->memory_bytes = (uint64_t)prop.totalGlobalMem;
    info->is_gpu = 1;
    int drv = 0, rt = 0;
    ZBE_CUDA(cudaDriverGetVersion(&drv));
    ZBE_CUDA(cudaRuntimeGetVersion(&rt));
    char kmod[32], api[16];
    kernel_driver_version(kmod, sizeof kmod);
    cuda_version(api, sizeof api, drv);
    if (kmod[0]) snprintf(info->driver, sizeof info->driver, "%s (CUDA %s)", kmod, api);
    else snprintf(info->driver, sizeof info->driver, "CUDA %s", api);
    cuda_version(info->runtime, sizeof info->runtime, rt);
    return ZB_OK;
}
