/*
 * The session's position counter in device memory (zb_kernels.h). A
 * one-thread kernel rather than a host copy: it takes its value as a launch
 * argument, so nothing on the host must outlive the call, and an advance is
 * an ordinary node of a captured decode graph.
 */
#include "zb_kernels.h"
#include "zbk_common.cuh"

namespace {

__global__ void position_set_kernel(int32_t *pos, int value)
{
    zbk_pdl_begin();
    *pos = value;
}

__global__ void position_add_kernel(int32_t *pos, int n)
{
    zbk_pdl_begin();
    *pos += n;
}

} // namespace

extern "C" cudaError_t zbk_position_set(int32_t *pos, int value, cudaStream_t stream)
{
    if (!pos || value < 0) return cudaErrorInvalidValue;
    return zbk_launch_pdl(position_set_kernel, 1, 1, 0, stream, pos, value);
}

extern "C" cudaError_t zbk_position_add(int32_t *pos, int n, cudaStream_t stream)
{
    if (!pos || n < 0) return cudaErrorInvalidValue;
    return zbk_launch_pdl(position_add_kernel, 1, 1, 0, stream, pos, n);
}
