#include "calibrate.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "env_info.h"
#include "plugin_loader.h"
#include "stats.h"
#include "zb_util.h"

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double cpu_copy_gbps(void)
{
    const size_t bytes = (size_t)256 << 20;
    char *a = malloc(bytes), *b = malloc(bytes);
    if (!a || !b) {
        free(a), free(b);
        return 0.0;
    }
    /* touch both buffers with non-zero data so the pages exist */
    for (size_t i = 0; i < bytes; i++) a[i] = (char)(i * 131u + 7u);
    memset(b, 1, bytes);
    double t[5];
    for (int r = 0; r < 5; r++) {
        double t0 = seconds();
        memcpy(r % 2 ? a : b, r % 2 ? b : a, bytes);
        t[r] = seconds() - t0;
    }
    volatile char sink = a[bytes / 2] ^ b[bytes / 3];
    (void)sink;
    free(a), free(b);
    zb_summary s;
    zb_summarize(t, 5, &s);
    return 2.0 * (double)bytes / s.median / 1e9; /* read + write */
}

static double cpu_fma_gflops(void)
{
    /* 16 independent multiply-add chains hide the operation latency */
    float acc[16];
    for (int i = 0; i < 16; i++) acc[i] = 1.0f + 0.001f * (float)i;
    const float m = 0.9999f, a = 0.0001f;
    const long iters = 20 * 1000 * 1000;
    double t0 = seconds();
    for (long it = 0; it < iters; it++)
        for (int i = 0; i < 16; i++) acc[i] = acc[i] * m + a;
    double dt = seconds() - t0;
    volatile float sink = 0.0f;
    for (int i = 0; i < 16; i++) sink += acc[i];
    (void)sink;
    return 2.0 * 16.0 * (double)iters / dt / 1e9;
}

void zb_calibrate_cpu(zb_ceilings *c)
{
    c->copy_gbps = cpu_copy_gbps();
    c->gemm_tflops = cpu_fma_gflops() / 1e3;
    snprintf(c->method, sizeof c->method,
             "cpu: memcpy of 256 MiB (median of 5, read+write); 16 fp32 multiply-add chains, one thread");
}

zb_status zb_calibrate_plugin(const zb_plugin_api *api, int device, zb_ceilings *c, zb_error *err)
{
    memset(c, 0, sizeof *c);
    if (!(api->caps & ZB_CAP_GPU)) {
        zb_calibrate_cpu(c);
        return ZB_OK;
    }
    const zb_ext_calibrate *ext = api->get_extension ? api->get_extension(ZB_EXT_CALIBRATE) : NULL;
    if (!ext) return zb_fail(err, ZB_ERR_UNSUPPORTED, "plugin %s cannot calibrate its device", api->name);
    return ext->calibrate(device, &c->copy_gbps, &c->gemm_tflops, c->method, sizeof c->method, err);
}

zb_status zb_ceilings_for(zb_db *db, const zb_plugin_api *api, const zb_device_info *dev, const char *host,
                          zb_ceilings *c, zb_error *err)
{
    zb_device_calib found;
    int have = 0;
    zb_status st = zb_db_find_device(db, dev->name, &found, &have, err);
    if (st != ZB_OK) return st;
    if (have) {
        c->copy_gbps = found.copy_gbps;
        c->gemm_tflops = found.gemm_tflops;
        snprintf(c->method, sizeof c->method, "%s", found.method);
        return ZB_OK;
    }
    st = zb_calibrate_plugin(api, 0, c, err);
    if (st != ZB_OK) return st;
    zb_device_calib rec = {dev->name, dev->is_gpu ? "gpu" : "cpu", host, c->copy_gbps, c->gemm_tflops, c->method};
    return zb_db_save_device(db, &rec, err);
}

int zb_cmd_calibrate(int argc, char **argv)
{
    const char *plugin = NULL, *db_path = "zbench.db";
    static const struct option opts[] = {
        {"plugin", required_argument, 0, 'p'},
        {"db", required_argument, 0, 'D'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'p': plugin = optarg; break;
        case 'D': db_path = optarg; break;
        case 'h': printf("usage: zbench calibrate [--plugin P] [--db FILE]\n"); return 0;
        default: fprintf(stderr, "zbench calibrate: bad option '%s'\n", argv[optind - 1]); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "zbench calibrate: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    zb_error err = {{0}};
    zb_plugin p;
    if (plugin ? zb_plugin_load(plugin, &p, &err) != ZB_OK : !zb_default_plugin(&p, &err)) {
        fprintf(stderr, "zbench calibrate: %s\n", err.msg);
        return 2;
    }
    zb_device_info dev;
    if (p.api->device_info(0, &dev, &err) != ZB_OK) {
        fprintf(stderr, "zbench calibrate: %s: %s\n", p.api->name, err.msg);
        return 2;
    }
    zb_db *db;
    if (zb_db_open(db_path, &db, &err) != ZB_OK) {
        fprintf(stderr, "zbench calibrate: %s\n", err.msg);
        return 2;
    }
    zb_ceilings ce;
    zb_env env;
    zb_env_read(&env);
    int rc = 0;
    if (zb_calibrate_plugin(p.api, 0, &ce, &err) != ZB_OK) {
        fprintf(stderr, "zbench calibrate: %s\n", err.msg);
        rc = 1;
    } else {
        zb_device_calib rec = {dev.name, dev.is_gpu ? "gpu" : "cpu", env.host, ce.copy_gbps, ce.gemm_tflops,
                               ce.method};
        if (zb_db_save_device(db, &rec, &err) != ZB_OK) {
            fprintf(stderr, "zbench calibrate: %s\n", err.msg);
            rc = 1;
        } else {
            printf("device: %s\ncopy bandwidth: %.1f GB/s\n%s rate: %.3f TFLOP/s\nmethod: %s\n", dev.name,
                   ce.copy_gbps, dev.is_gpu ? "bf16 GEMM" : "fp32 FMA", ce.gemm_tflops, ce.method);
        }
    }
    zb_db_close(db);
    return rc;
}
