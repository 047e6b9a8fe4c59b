/* zbench list: plugins (name, ABI, description) and model presets. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "model.h"
#include "plugin_loader.h"

int zb_cmd_list(int argc, char **argv)
{
    (void)argv;
    if (argc > 1) {
        fprintf(stderr, "zbench list: takes no arguments\n");
        return 2;
    }
    zb_plugin_entry_info found[64];
    int n = zb_plugin_scan(found, 64);
    printf("plugins:\n");
    printf("  %-12s %-4s %-10s %s\n", "name", "abi", "device", "description");
    for (int i = 0; i < n; i++) {
        zb_plugin p;
        zb_error err = {{0}};
        if (zb_plugin_load(found[i].path, &p, &err) != ZB_OK) {
            printf("  %-12s %-4s %-10s (unusable: %s)\n", found[i].name, "-", "-", err.msg);
            continue;
        }
        zb_device_info info;
        const char *dev = "cpu";
        if (p.api->caps & ZB_CAP_GPU) dev = p.api->device_info(0, &info, &err) == ZB_OK ? "gpu" : "no-gpu";
        printf("  %-12s %-4u %-10s %s\n", p.api->name, p.api->abi_version, dev, p.api->description);
    }
    if (n == 0) printf("  (none found; set ZBENCH_PLUGIN_PATH or build with make)\n");
    printf("models (presets, synthetic weights):\n");
    for (int i = 0; i < zb_preset_count(); i++) {
        const zb_preset *pr = zb_preset_at(i);
        zb_model m;
        zb_error err = {{0}};
        if (zb_model_load(pr->name, NULL, 0, &m, &err) != ZB_OK) continue;
        printf("  %-16s %8.3gB params  %s\n", pr->name, (double)m.n_params / 1e9, pr->about);
        zb_model_free(&m);
    }
    printf("or a Hugging Face checkpoint directory (config.json + safetensors), or --model-config FILE\n");
    return 0;
}
