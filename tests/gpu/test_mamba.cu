/*
 * Mamba kernels (zbk_conv1d_prefill, zbk_selective_scan, zbk_mamba_step)
 * against the semantics of reference/ref_mamba.c.
 *
 * The host mirrors here follow ref_mamba.c line by line (double sums where
 * it sums in double, zb_ref_softplus, zb_ref_act, expf) in the engine's
 * layout (xz = x columns then z columns), with the device's rounding points:
 * u is stored in bf16, so the mirror rounds u to bf16 before x_proj, delta*u
 * and D*u. One check also runs zb_ref_mamba_mixer itself (in_proj and
 * out_proj set to permutations, so its input is our xz and its output our
 * y); it keeps u in fp32, hence its looser bound.
 *
 * Checks: conv alone; scan alone (random dt, B, C), and where the shape
 * allows it the scan making dt itself from 16-bit dt_raw (NaN past
 * dt_rank, which it must not read); prefill split in two calls == one
 * call; prefill (conv + host projections + scan, both ways) == T decode
 * steps == the mirror, on y and on the final conv and SSM states.
 * Tolerances: relative L2 1e-2 on bf16 outputs, 1e-3 on fp32 states.
 *
 * --bench: conv, scan and conv+scan at Zamba-7B shapes (T = 512, 2048,
 * 16384, batch 1), mamba_step at batch 1 and 4 (one layer, L2 cold), and
 * 76 layers of mamba_step back to back (distinct weights and states).
 */
#include <cmath>
#include <cstdio>
#include <vector>

#include "gpu_test_util.h"
#include "zb_kernels.h"

extern "C" {
#include "zb_ref.h"
}

namespace {

struct MShape {
    const char *name;
    int batch, Di, nh, N, K, R;
    zb_act act;
    int P() const { return R + 2 * N; }
    int Dh() const { return Di / nh; }
};

/* Host parameters, holding exactly the values the device sees. */
struct HostW {
    std::vector<float> conv_w, conv_b, x_proj, dt_proj, dt_bias, A_log, D;
};

struct DevW {
    DevBuf<float> conv_w, conv_b, dt_bias, A_log, D;
    DevBuf<uint16_t> x_proj, dt_proj;
    explicit DevW(const HostW &w)
        : conv_w(w.conv_w), conv_b(w.conv_b), dt_bias(w.dt_bias), A_log(w.A_log), D(w.D),
          x_proj(to_half(w.x_proj)), dt_proj(to_half(w.dt_proj))
    {
    }
};

std::vector<float> rnd(Rng &r, size_t n, float lo, float hi)
{
    std::vector<float> v(n);
    r.fill(v, lo, hi);
    return v;
}
std::vector<float> rnd_half(Rng &r, size_t n, float lo, float hi)
{
    std::vector<float> v = rnd(r, n, lo, hi);
    round_half(v);
    return v;
}

HostW make_weights(const MShape &s, uint64_t seed)
{
    Rng r(seed);
    HostW w;
    w.conv_w = rnd(r, (size_t)s.Di * s.K, -0.6f, 0.6f);
    w.conv_b = rnd(r, s.Di, -0.2f, 0.2f);
    const float xs = 2.0f / std::sqrt((float)s.Dh()), ds = 1.5f / std::sqrt((float)s.R);
    w.x_proj = rnd_half(r, (size_t)s.nh * s.P() * s.Dh(), -xs, xs);
    w.dt_proj = rnd_half(r, (size_t)s.Di * s.R, -ds, ds);
    /* softplus(bias) from ~0.007 to ~0.3, as Mamba's init; with dt_raw the
     * argument spans both softplus branches (x < -4 and above) */
    w.dt_bias = rnd(r, s.Di, -5.0f, -1.0f);
    w.A_log = rnd(r, (size_t)s.Di * s.N, 0.0f, 2.77f); /* A in [-16, -1] */
    w.D = rnd(r, s.Di, -1.0f, 1.0f);
    return w;
}


/* ---------------------------------------------------- host mirrors */

/* Conv over T tokens, ref_mamba.c step 2; cstate [batch][Di][K] in/out;
 * u [batch][T][Di] unrounded. */
void host_conv(const MShape &s, int T, const std::vector<float> &xz, const HostW &w, std::vector<float> &cstate,
               std::vector<float> &u)
{
    const int Di = s.Di, K = s.K;
    u.assign((size_t)s.batch * T * Di, 0.0f);
    for (int b = 0; b < s.batch; b++)
        for (int t = 0; t < T; t++)
            for (int c = 0; c < Di; c++) {
                float *st = &cstate[((size_t)b * Di + c) * K];
                for (int k = 0; k + 1 < K; k++) st[k] = st[k + 1];
                st[K - 1] = xz[((size_t)b * T + t) * 2 * Di + c];
                double acc = w.conv_b[c];
                for (int k = 0; k < K; k++) acc += (double)w.conv_w[(size_t)c * K + k] * st[k];
                u[((size_t)b * T + t) * Di + c] = zb_ref_act(s.act, (float)acc);
            }
}

/* The selective scan, ref_mamba.c step 3 after the projections: dt
 * without bias [batch][T][Di], params [batch][T][nh][P]. */
void host_scan(const MShape &s, int T, const std::vector<float> &u, const std::vector<float> &dt,
               const std::vector<float> &params, const std::vector<float> &xz, const HostW &w,
               std::vector<float> &state, std::vector<float> &y)
{
    const int Di = s.Di, N = s.N, P = s.P(), Dh = s.Dh();
    y.assign((size_t)s.batch * T * Di, 0.0f);
    for (int b = 0; b < s.batch; b++)
        for (int t = 0; t < T; t++) {
            const size_t row = (size_t)b * T + t;
            for (int c = 0; c < Di; c++) {
                const float *B = &params[(row * s.nh + c / Dh) * P + s.R], *C = B + N;
                const float uu = u[row * Di + c];
                const float delta = zb_ref_softplus((float)((double)w.dt_bias[c] + dt[row * Di + c]));
                float *st = &state[((size_t)b * Di + c) * N];
                double acc = 0.0;
                for (int n = 0; n < N; n++) {
                    const float A = -expf(w.A_log[(size_t)c * N + n]);
                    st[n] = expf(A * delta) * st[n] + delta * B[n] * uu;
                    acc += (double)st[n] * C[n];
                }
                y[row * Di + c] = ((float)acc + w.D[c] * uu) * zb_ref_act(s.act, xz[row * 2 * Di + Di + c]);
            }
        }
}

/* x_proj and dt_proj (no bias) of u [batch][T][Di], as the engine's GEMMs
 * would: params [batch][T][nh][P], dt [batch][T][Di]. */
void host_proj(const MShape &s, int T, const std::vector<float> &u, const HostW &w, std::vector<float> &params,
               std::vector<float> &dt)
{
    const int Di = s.Di, P = s.P(), Dh = s.Dh(), R = s.R;
    params.assign((size_t)s.batch * T * s.nh * P, 0.0f);
    dt.assign((size_t)s.batch * T * Di, 0.0f);
    for (size_t row = 0; row < (size_t)s.batch * T; row++)
        for (int h = 0; h < s.nh; h++) {
            float *par = &params[(row * s.nh + h) * P];
            for (int p = 0; p < P; p++) {
                double acc = 0.0;
                const float *wr = &w.x_proj[((size_t)h * P + p) * Dh];
                for (int i = 0; i < Dh; i++) acc += (double)wr[i] * u[row * Di + h * Dh + i];
                par[p] = (float)acc;
            }
            for (int i = 0; i < Dh; i++) {
                const int c = h * Dh + i;
                double acc = 0.0;
                for (int r = 0; r < R; r++) acc += (double)w.dt_proj[(size_t)c * R + r] * par[r];
                dt[row * Di + c] = (float)acc;
            }
        }
}

/* The whole mixer after in_proj, token by token (ref_mamba.c with u in
 * bf16): y [batch][T][Di]. */
void host_mixer(const MShape &s, int T, const std::vector<float> &xz, const HostW &w, std::vector<float> &cstate,
                std::vector<float> &sstate, std::vector<float> &y)
{
    MShape one = s;
    one.batch = 1;
    y.assign((size_t)s.batch * T * s.Di, 0.0f);
    for (int b = 0; b < s.batch; b++) {
        std::vector<float> cs(cstate.begin() + (size_t)b * s.Di * s.K, cstate.begin() + (size_t)(b + 1) * s.Di * s.K);
        std::vector<float> ss(sstate.begin() + (size_t)b * s.Di * s.N, sstate.begin() + (size_t)(b + 1) * s.Di * s.N);
        for (int t = 0; t < T; t++) {
            std::vector<float> x1(xz.begin() + ((size_t)b * T + t) * 2 * s.Di,
                                  xz.begin() + ((size_t)b * T + t + 1) * 2 * s.Di);
            std::vector<float> u, par, dt, y1;
            host_conv(one, 1, x1, w, cs, u);
            round_half(u);
            host_proj(one, 1, u, w, par, dt);
            host_scan(one, 1, u, dt, par, x1, w, ss, y1);
            std::copy(y1.begin(), y1.end(), y.begin() + ((size_t)b * T + t) * s.Di);
        }
        std::copy(cs.begin(), cs.end(), cstate.begin() + (size_t)b * s.Di * s.K);
        std::copy(ss.begin(), ss.end(), sstate.begin() + (size_t)b * s.Di * s.N);
    }
}

/* --------------------------------------------------- device wrappers */

void dev_conv(const MShape &s, int T, const DevBuf<uint16_t> &xz, const DevW &w, DevBuf<uint16_t> &cstate,
              DevBuf<uint16_t> &u, size_t xz_off = 0, size_t u_off = 0)
{
    CUDA_CHECK(zbk_conv1d_prefill(xz.p + xz_off, s.batch, T, s.Di, s.K, w.conv_w.p, w.conv_b.p, s.act, cstate.p,
                                  u.p + u_off, 0));
}

/* The scan's arguments but dt (NULL) and what it makes dt from. */
zbk_scan_args scan_args(const MShape &s, int T, const uint16_t *u, const uint16_t *xz, const float *params,
                        const DevW &w, float *state, uint16_t *y)
{
    zbk_scan_args a = {};
    a.u = u, a.xz = xz, a.params = params, a.dt_bias = w.dt_bias.p, a.A_log = w.A_log.p, a.D = w.D.p;
    a.ssm_state = state, a.y = y;
    a.batch = s.batch, a.T = T, a.d_inner = s.Di, a.d_state = s.N, a.nh = s.nh, a.dt_rank = s.R, a.act = s.act;
    return a;
}

void dev_scan(const MShape &s, int T, const uint16_t *u, const uint16_t *xz, const float *dt, const float *params,
              const DevW &w, float *state, uint16_t *y)
{
    zbk_scan_args a = scan_args(s, T, u, xz, params, w, state, y);
    a.dt = dt;
    CUDA_CHECK(zbk_selective_scan(&a, 0));
}

/* dt_raw in 16 bits as the scan takes it when it makes dt itself: row r,
 * head h at r * ld + h * sh; sh is dt_rank rounded up to 8 and ld leaves
 * 8 more columns, and everything past dt_rank is NaN, which the scan must
 * never read (it would poison every dt of the row). */
struct Dtr {
    int sh, ld;
    std::vector<float> v; /* the 16-bit values, NaN in the gaps */
};

Dtr make_dtr(const MShape &s, size_t nrow, const std::vector<float> &params)
{
    Dtr d;
    d.sh = (s.R + 7) / 8 * 8;
    d.ld = s.nh * d.sh + 8;
    d.v.assign(nrow * d.ld, NAN);
    for (size_t row = 0; row < nrow; row++)
        for (int h = 0; h < s.nh; h++)
            for (int r = 0; r < s.R; r++)
                d.v[row * d.ld + (size_t)h * d.sh + r] = zbk_h2f(zbk_f2h(params[(row * s.nh + h) * s.P() + r]));
    return d;
}

/* dt [nrow][Di] = dt_raw dt_proj^T per head in double from the 16-bit
 * values the scan sees. */
std::vector<float> host_dt(const MShape &s, size_t nrow, const Dtr &d, const HostW &w)
{
    std::vector<float> dt(nrow * s.Di);
    for (size_t row = 0; row < nrow; row++)
        for (int c = 0; c < s.Di; c++) {
            const float *x = &d.v[row * d.ld + (size_t)(c / s.Dh()) * d.sh];
            double acc = 0.0;
            for (int r = 0; r < s.R; r++) acc += (double)w.dt_proj[(size_t)c * s.R + r] * x[r];
            dt[row * s.Di + c] = (float)acc;
        }
    return dt;
}

/* The scan making dt itself (dt = NULL). */
void dev_scan_fdt(const MShape &s, int T, const uint16_t *u, const uint16_t *xz, const uint16_t *dtr, const Dtr &d,
                  const float *params, const DevW &w, float *state, uint16_t *y)
{
    zbk_scan_args a = scan_args(s, T, u, xz, params, w, state, y);
    a.dtr = dtr, a.dtr_ld = d.ld, a.dtr_sh = d.sh, a.dt_proj = w.dt_proj.p;
    CUDA_CHECK(zbk_selective_scan(&a, 0));
}

bool fuses_dt(const MShape &s) { return zbk_selective_scan_fuses_dt(s.Di, s.nh, s.N, s.R) != 0; }

void dev_step(const MShape &s, const uint16_t *xz, const DevW &w, uint16_t *cstate, float *sstate, uint16_t *y,
              void *scratch)
{
    zbk_mamba_step_args a = {};
    a.xz = xz, a.conv_w = w.conv_w.p, a.conv_b = w.conv_b.p, a.conv_state = cstate;
    a.x_proj = w.x_proj.p, a.dt_proj = w.dt_proj.p, a.dt_bias = w.dt_bias.p, a.A_log = w.A_log.p, a.D = w.D.p;
    a.ssm_state = sstate, a.y = y;
    a.batch = s.batch, a.d_inner = s.Di, a.d_conv = s.K, a.d_state = s.N, a.nh = s.nh, a.dt_rank = s.R;
    a.act = s.act, a.scratch = scratch;
    CUDA_CHECK(zbk_mamba_step(&a, 0));
}

/* Gathers rows [b][t0..t0+n) of a [batch][T][width] array. */
template <typename V>
std::vector<V> rows_of(const std::vector<V> &v, int batch, int T, size_t width, int t0, int n)
{
    std::vector<V> out((size_t)batch * n * width);
    for (int b = 0; b < batch; b++)
        std::copy(v.begin() + ((size_t)b * T + t0) * width, v.begin() + ((size_t)b * T + t0 + n) * width,
                  out.begin() + (size_t)b * n * width);
    return out;
}

/* Every check runs (a failure is printed, counted and the run goes on,
 * so one device run reports them all); the worst error of each kind is
 * listed at the end. */
int g_checks = 0, g_failed = 0;
struct Worst {
    const char *what;
    double err, tol;
};
std::vector<Worst> g_worst;

void expect(const char *what, const MShape &s, int T, double err, double tol)
{
    g_checks++;
    const bool ok = err <= tol; /* NaN fails */
    if (!ok) {
        g_failed++;
        fprintf(stderr, "FAIL %s [%s batch %d T %d]: rel err %.3g > %.3g\n", what, s.name, s.batch, T, err, tol);
    }
    for (auto &w : g_worst)
        if (!strcmp(w.what, what)) {
            if (!(w.err >= err)) w.err = err;
            return;
        }
    g_worst.push_back({what, err, tol});
}

void expect_true(const char *what, const MShape &s, int T, bool ok)
{
    expect(what, s, T, ok ? 0.0 : 1.0, 0.0);
}

double rel(const std::vector<float> &a, const std::vector<float> &b)
{
    TEST_CHECK(a.size() == b.size(), "size %zu vs %zu", a.size(), b.size());
    return rel_err(a.data(), b.data(), a.size());
}

/* ------------------------------------------------------------- tests */

/* Conv alone, one call and split in two calls; T2 may be 0 (no split). */
void test_conv(const MShape &s, int T, int T1, uint64_t seed)
{
    Rng r(seed);
    HostW w = make_weights(s, seed + 1);
    const std::vector<float> xz = rnd_half(r, (size_t)s.batch * T * 2 * s.Di, -2.0f, 2.0f);
    const std::vector<float> cs0 = rnd_half(r, (size_t)s.batch * s.Di * s.K, -2.0f, 2.0f);
    DevW dw(w);
    DevBuf<uint16_t> dxz(to_half(xz)), dcs(to_half(cs0)), du((size_t)s.batch * T * s.Di);
    du.poison();
    dev_conv(s, T, dxz, dw, dcs, du);
    const std::vector<float> u_dev = from_half(du.download()), cs_dev = from_half(dcs.download());

    std::vector<float> cs = cs0, u_ref;
    host_conv(s, T, xz, w, cs, u_ref);
    expect("conv u", s, T, rel(u_dev, u_ref), 1e-2);
    expect_true("conv state (exact)", s, T, cs_dev == cs);

    if (T1 > 0 && T1 < T) {
        /* the same tokens in two calls: same bits */
        const int T2 = T - T1;
        DevBuf<uint16_t> xa(to_half(rows_of(xz, s.batch, T, 2 * s.Di, 0, T1)));
        DevBuf<uint16_t> xb(to_half(rows_of(xz, s.batch, T, 2 * s.Di, T1, T2)));
        DevBuf<uint16_t> ua((size_t)s.batch * T1 * s.Di), ub((size_t)s.batch * T2 * s.Di);
        ua.poison(), ub.poison();
        dcs.upload(to_half(cs0));
        dev_conv(s, T1, xa, dw, dcs, ua);
        dev_conv(s, T2, xb, dw, dcs, ub);
        expect_true("conv split == one call (exact)", s, T,
                    from_half(ua.download()) == rows_of(u_dev, s.batch, T, s.Di, 0, T1) &&
                        from_half(ub.download()) == rows_of(u_dev, s.batch, T, s.Di, T1, T2) &&
                        from_half(dcs.download()) == cs_dev);
    }
}

/* dt = NULL where the scan cannot make dt, or with a dt_raw layout it
 * cannot copy, is refused before any launch. */
void test_scan_fdt_refusals(const MShape &ok, const MShape &generic)
{
    DevBuf<uint16_t> buf(1 << 16);
    DevBuf<float> fbuf(1 << 16);
    auto try_scan = [&](const MShape &s, int sh, int ld, bool with_dtr) {
        const DevW w(make_weights(s, 7));
        MShape one = s;
        one.batch = 1;
        zbk_scan_args a = scan_args(one, 4, buf.p, buf.p, fbuf.p, w, fbuf.p, buf.p);
        a.dtr = with_dtr ? buf.p : nullptr, a.dtr_ld = ld, a.dtr_sh = sh, a.dt_proj = w.dt_proj.p;
        return zbk_selective_scan(&a, 0);
    };
    const int sh = (ok.R + 7) / 8 * 8;
    expect_true("scan (dt made) refusals: a shape it cannot make dt for", generic,
                4, !fuses_dt(generic) && try_scan(generic, 8, 16, true) == cudaErrorInvalidValue);
    expect_true("scan (dt made) refusals: no dt_raw", ok, 4, try_scan(ok, sh, ok.nh * sh, false) == cudaErrorInvalidValue);
    expect_true("scan (dt made) refusals: head stride not a multiple of 8", ok, 4,
                try_scan(ok, sh + 1, ok.nh * (sh + 1), true) == cudaErrorInvalidValue);
    expect_true("scan (dt made) refusals: head stride below dt_rank", ok, 4,
                try_scan(ok, 0, ok.nh * sh, true) == cudaErrorInvalidValue);
    CUDA_CHECK(cudaGetLastError());
}

/* One scan check, whichever way dt reaches the kernel: scan(t0, n, state)
 * runs it on tokens t0 .. t0+n-1 of every sequence and returns y. The
 * whole call against the host's y_ref and st_ref; then the first T1
 * tokens and the rest in two calls, which must give the same bits.
 * names: y, state, split y1, split y2, split state. */
template <typename Scan>
void check_scan(const char *const (&names)[5], const MShape &s, int T, int T1, Scan scan,
                const std::vector<float> &st0, const std::vector<float> &y_ref, const std::vector<float> &st_ref)
{
    DevBuf<float> dst(st0);
    const std::vector<float> y_dev = scan(0, T, dst), st_dev = dst.download();
    expect(names[0], s, T, rel(y_dev, y_ref), 1e-2);
    expect(names[1], s, T, rel(st_dev, st_ref), 1e-3);
    if (T1 > 0 && T1 < T) {
        const int T2 = T - T1;
        DevBuf<float> st2(st0);
        const std::vector<float> ya = scan(0, T1, st2), yb = scan(T1, T2, st2);
        expect(names[2], s, T, rel(ya, rows_of(y_dev, s.batch, T, s.Di, 0, T1)), 1e-6);
        expect(names[3], s, T, rel(yb, rows_of(y_dev, s.batch, T, s.Di, T1, T2)), 1e-6);
        expect(names[4], s, T, rel(st2.download(), st_dev), 1e-6);
    }
}

/* Scan alone on random inputs, in one call and in two; and, where the
 * shape allows it, the scan making dt itself from 16-bit dt_raw (params'
 * dt_raw columns, NaN past dt_rank) against the host scan on dt from the
 * same 16-bit values. */
void test_scan(const MShape &s, int T, int T1, uint64_t seed)
{
    Rng r(seed);
    HostW w = make_weights(s, seed + 1);
    const size_t nrow = (size_t)s.batch * T;
    const std::vector<float> u = rnd_half(r, nrow * s.Di, -2.0f, 2.0f);
    const std::vector<float> xz = rnd_half(r, nrow * 2 * s.Di, -3.0f, 3.0f);
    std::vector<float> dt = rnd(r, nrow * s.Di, -2.0f, 2.0f);
    for (size_t i = 0; i < dt.size(); i += 97) dt[i] = 25.0f; /* softplus's linear branch */
    const std::vector<float> params = rnd(r, nrow * s.nh * s.P(), -1.0f, 1.0f);
    const std::vector<float> st0 = rnd(r, (size_t)s.batch * s.Di * s.N, -1.0f, 1.0f);
    DevW dw(w);

    /* the inputs of tokens t0 .. t0+n-1 on the device; launch(pu, pxz,
     * ppar, py) runs the kernel on them */
    auto on_rows = [&](int t0, int n, auto launch) {
        DevBuf<uint16_t> pu(to_half(rows_of(u, s.batch, T, s.Di, t0, n)));
        DevBuf<uint16_t> pxz(to_half(rows_of(xz, s.batch, T, 2 * s.Di, t0, n)));
        DevBuf<float> ppar(rows_of(params, s.batch, T, (size_t)s.nh * s.P(), t0, n));
        DevBuf<uint16_t> py((size_t)s.batch * n * s.Di);
        py.poison();
        launch(pu.p, pxz.p, ppar.p, py.p);
        return from_half(py.download());
    };

    std::vector<float> st = st0, y_ref;
    host_scan(s, T, u, dt, params, xz, w, st, y_ref);
    static const char *const plain[5] = {"scan y", "scan state", "scan split y1", "scan split y2",
                                         "scan split state"};
    check_scan(plain, s, T, T1, [&](int t0, int n, DevBuf<float> &state) {
        DevBuf<float> pdt(rows_of(dt, s.batch, T, s.Di, t0, n));
        return on_rows(t0, n, [&](const uint16_t *pu, const uint16_t *pxz, const float *ppar, uint16_t *py) {
            dev_scan(s, n, pu, pxz, pdt.p, ppar, dw, state.p, py);
        });
    }, st0, y_ref, st);

    if (!fuses_dt(s)) return;
    const Dtr d = make_dtr(s, nrow, params);
    std::vector<float> st_m = st0, y_m;
    host_scan(s, T, u, host_dt(s, nrow, d, w), params, xz, w, st_m, y_m);
    static const char *const made[5] = {"scan (dt made) y", "scan (dt made) state", "scan (dt made) split y1",
                                        "scan (dt made) split y2", "scan (dt made) split state"};
    check_scan(made, s, T, T1, [&](int t0, int n, DevBuf<float> &state) {
        DevBuf<uint16_t> pdtr(to_half(rows_of(d.v, s.batch, T, d.ld, t0, n)));
        return on_rows(t0, n, [&](const uint16_t *pu, const uint16_t *pxz, const float *ppar, uint16_t *py) {
            dev_scan_fdt(s, n, pu, pxz, pdtr.p, d, ppar, dw, state.p, py);
        });
    }, st0, y_m, st_m);
}

/* The mixer after in_proj three ways: prefill (conv kernel, projections
 * on the host, scan kernel), T decode steps, and the host mirror; and for
 * small shapes, zb_ref_mamba_mixer itself. */
void test_mixer(const MShape &s, int T, bool with_ref, uint64_t seed)
{
    Rng r(seed);
    HostW w = make_weights(s, seed + 1);
    const int Di = s.Di;
    const size_t nrow = (size_t)s.batch * T;
    const std::vector<float> xz = rnd_half(r, nrow * 2 * Di, -2.0f, 2.0f);
    const std::vector<float> cs0 = rnd_half(r, (size_t)s.batch * Di * s.K, -2.0f, 2.0f);
    const std::vector<float> ss0 = rnd(r, (size_t)s.batch * Di * s.N, -1.0f, 1.0f);
    DevW dw(w);

    /* host mirror */
    std::vector<float> cs_ref = cs0, ss_ref = ss0, y_ref;
    host_mixer(s, T, xz, w, cs_ref, ss_ref, y_ref);

    /* prefill */
    DevBuf<uint16_t> dxz(to_half(xz)), dcs(to_half(cs0)), du(nrow * Di), dy(nrow * Di);
    DevBuf<float> dss(ss0);
    du.poison(), dy.poison();
    dev_conv(s, T, dxz, dw, dcs, du);
    const std::vector<float> u_dev = from_half(du.download());
    std::vector<float> params, dt;
    host_proj(s, T, u_dev, w, params, dt);
    DevBuf<float> ddt(dt), dpar(params);
    dev_scan(s, T, du.p, dxz.p, ddt.p, dpar.p, dw, dss.p, dy.p);
    expect("prefill y", s, T, rel(from_half(dy.download()), y_ref), 1e-2);
    expect("prefill ssm state", s, T, rel(dss.download(), ss_ref), 1e-3);
    expect("prefill conv state", s, T, rel(from_half(dcs.download()), cs_ref), 0.0);
    if (fuses_dt(s)) {
        /* the engine's prefill: dt_raw rounded to 16 bits, dt made in the scan */
        const Dtr d = make_dtr(s, nrow, params);
        DevBuf<uint16_t> ddtr(to_half(d.v)), fy(nrow * Di);
        DevBuf<float> fss(ss0);
        fy.poison();
        dev_scan_fdt(s, T, du.p, dxz.p, ddtr.p, d, dpar.p, dw, fss.p, fy.p);
        expect("prefill (dt made) y", s, T, rel(from_half(fy.download()), y_ref), 1e-2);
        expect("prefill (dt made) ssm state", s, T, rel(fss.download(), ss_ref), 1e-3);
    }

    /* T decode steps: xz and y as [T][batch][width] */
    std::vector<float> xz_tb((size_t)T * s.batch * 2 * Di);
    for (int t = 0; t < T; t++)
        for (int b = 0; b < s.batch; b++)
            std::copy(xz.begin() + ((size_t)b * T + t) * 2 * Di, xz.begin() + ((size_t)b * T + t + 1) * 2 * Di,
                      xz_tb.begin() + ((size_t)t * s.batch + b) * 2 * Di);
    DevBuf<uint16_t> sxz(to_half(xz_tb)), scs(to_half(cs0)), sy((size_t)T * s.batch * Di);
    DevBuf<float> sss(ss0);
    DevBuf<uint8_t> scratch(zbk_mamba_step_scratch_bytes(s.batch, Di, s.nh, s.R, s.N));
    sy.poison(), scratch.poison();
    for (int t = 0; t < T; t++)
        dev_step(s, sxz.p + (size_t)t * s.batch * 2 * Di, dw, scs.p, sss.p, sy.p + (size_t)t * s.batch * Di,
                 scratch.p);
    CUDA_CHECK(cudaDeviceSynchronize());
    const std::vector<float> sy_tb = from_half(sy.download());
    std::vector<float> y_step(nrow * Di);
    for (int t = 0; t < T; t++)
        for (int b = 0; b < s.batch; b++)
            std::copy(sy_tb.begin() + ((size_t)t * s.batch + b) * Di, sy_tb.begin() + ((size_t)t * s.batch + b + 1) * Di,
                      y_step.begin() + ((size_t)b * T + t) * Di);
    expect("step y", s, T, rel(y_step, y_ref), 1e-2);
    expect("step ssm state", s, T, rel(sss.download(), ss_ref), 1e-3);
    expect("step conv state", s, T, rel(from_half(scs.download()), cs_ref), 0.0);

    if (!with_ref) return;
    /* zb_ref_mamba_mixer, per sequence: hidden = 2 Di, in_proj picks x_c
     * for row 2c and z_c for row 2c+1 (its interleaved layout), out_proj
     * copies y into the first Di outputs */
    zb_model_desc d = {};
    d.hidden_size = 2 * Di, d.d_inner = Di, d.d_conv = s.K, d.d_state = s.N, d.dt_rank = s.R;
    d.n_mamba_heads = s.nh, d.mamba_act = s.act;
    std::vector<float> in_proj((size_t)4 * Di * Di, 0.0f), out_proj((size_t)2 * Di * Di, 0.0f);
    for (int c = 0; c < Di; c++) {
        in_proj[(size_t)(2 * c) * 2 * Di + c] = 1.0f;
        in_proj[(size_t)(2 * c + 1) * 2 * Di + Di + c] = 1.0f;
        out_proj[(size_t)c * Di + c] = 1.0f;
    }
    zb_ref_mamba_w rw = {};
    rw.in_proj = in_proj.data(), rw.conv_w = w.conv_w.data(), rw.conv_b = w.conv_b.data();
    rw.x_proj = w.x_proj.data(), rw.dt_proj = w.dt_proj.data(), rw.dt_bias = w.dt_bias.data();
    rw.A_log = w.A_log.data(), rw.D = w.D.data(), rw.out_proj = out_proj.data();
    std::vector<float> y_hf(nrow * Di), ss_hf = ss0, out((size_t)T * 2 * Di);
    for (int b = 0; b < s.batch; b++) {
        std::vector<float> x(xz.begin() + (size_t)b * T * 2 * Di, xz.begin() + (size_t)(b + 1) * T * 2 * Di);
        std::vector<float> conv(cs0.begin() + (size_t)b * Di * s.K, cs0.begin() + (size_t)(b + 1) * Di * s.K);
        zb_ref_mamba_mixer(&d, &rw, conv.data(), ss_hf.data() + (size_t)b * Di * s.N, x.data(), T, out.data());
        for (int t = 0; t < T; t++)
            std::copy(out.begin() + (size_t)t * 2 * Di, out.begin() + (size_t)t * 2 * Di + Di,
                      y_hf.begin() + ((size_t)b * T + t) * Di);
    }
    /* u in fp32 there, bf16 here: ~2^-9 per element of u */
    expect("ref mixer y (prefill)", s, T, rel(from_half(dy.download()), y_hf), 2e-2);
    expect("ref mixer y (step)", s, T, rel(y_step, y_hf), 2e-2);
    expect("ref mixer ssm state", s, T, rel(sss.download(), ss_hf), 1e-2);
}

/* ------------------------------------------------------------ bench */

__global__ void fill_kernel(void *p, size_t n, int half, uint64_t seed, float lo, float hi)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        const float v = lo + (hi - lo) * 0.5f * (zb_synth_unit(seed, 0x5eed, i) + 1.0f);
        if (half)
            static_cast<uint16_t *>(p)[i] = zbk_f2h(v);
        else
            static_cast<float *>(p)[i] = v;
    }
}

template <typename V> void dev_fill(DevBuf<V> &b, uint64_t seed, float lo, float hi)
{
    fill_kernel<<<1024, 256>>>(b.p, b.n, sizeof(V) == 2, seed, lo, hi);
    CUDA_CHECK(cudaGetLastError());
}

void bench()
{
    const MShape z{"zamba7b", 1, 7424, 2, 16, 4, 232, ZB_ACT_SILU};
    const int Di = z.Di, N = z.N, P = z.P();
    HostW hw = make_weights(z, 4242);
    DevW w(hw);
    const int Tmax = 16384;
    DevBuf<uint16_t> xz((size_t)Tmax * 2 * Di), u((size_t)Tmax * Di), y((size_t)Tmax * Di);
    DevBuf<float> dt((size_t)Tmax * Di), par((size_t)Tmax * z.nh * P);
    dev_fill(xz, 1, -2.0f, 2.0f), dev_fill(dt, 2, -2.0f, 1.0f), dev_fill(par, 3, -1.0f, 1.0f);
    dev_fill(u, 6, -1.0f, 1.0f);
    Dtr dtrd; /* dt_raw for the scan that makes dt, as the engine lays it out */
    dtrd.sh = (z.R + 7) / 8 * 8, dtrd.ld = z.nh * dtrd.sh;
    DevBuf<uint16_t> dtr((size_t)Tmax * dtrd.ld);
    dev_fill(dtr, 14, -1.0f, 1.0f);
    CUDA_CHECK(cudaDeviceSynchronize());

    {
        cudaDeviceProp prop;
        int dev = 0, clk = 0;
        CUDA_CHECK(cudaGetDevice(&dev));
        CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
        CUDA_CHECK(cudaDeviceGetAttribute(&clk, cudaDevAttrClockRate, dev));
        printf("device: %s, %d SMs, max SM clock %.0f MHz\n", prop.name, prop.multiProcessorCount, clk / 1e3);
    }
    const int cases[][2] = {{512, 1}, {2048, 1}, {16384, 1}, {2048, 4}};
    for (const auto &cs_ : cases) {
        const int T = cs_[0];
        MShape s = z;
        s.batch = cs_[1];
        const double rows = (double)T * s.batch;
        char shape[64];
        snprintf(shape, sizeof shape, "Di7424 N16 T%d b%d", T, s.batch);
        const double conv_bytes = rows * Di * 2 * 2 + 2.0 * s.batch * Di * z.K * 2;
        const double scan_bytes = rows * Di * (2 + 4 + 2 + 2) + rows * z.nh * 2 * N * 4 + 2.0 * s.batch * Di * N * 4;
        DevBuf<float> bss((size_t)s.batch * Di * N);
        DevBuf<uint16_t> bcs((size_t)s.batch * Di * z.K);
        dev_fill(bss, 20, -1.0f, 1.0f), dev_fill(bcs, 21, -1.0f, 1.0f);
        const double tc = time_median_ms([&] { dev_conv(s, T, xz, w, bcs, u); });
        bench_line("mamba_conv1d_prefill", shape, tc, conv_bytes, 0);
        const double ts = time_median_ms([&] { dev_scan(s, T, u.p, xz.p, dt.p, par.p, w, bss.p, y.p); });
        bench_line("mamba_selective_scan", shape, ts, scan_bytes, 0);
        /* the scan making dt from 16-bit dt_raw: f32 dt (4 bytes a row and
         * channel) replaced by dt_raw (2 bytes a row and rank) */
        const double fdt_bytes = scan_bytes - rows * Di * 4 + rows * z.nh * dtrd.sh * 2;
        const double tf = time_median_ms([&] { dev_scan_fdt(s, T, u.p, xz.p, dtr.p, dtrd, par.p, w, bss.p, y.p); });
        bench_line("mamba_selective_scan (dt made)", shape, tf, fdt_bytes, 0);
        const double tb = time_median_ms([&] {
            dev_conv(s, T, xz, w, bcs, u);
            dev_scan(s, T, u.p, xz.p, dt.p, par.p, w, bss.p, y.p);
        });
        bench_line("mamba_conv+scan", shape, tb, conv_bytes + scan_bytes, 0);
        printf("       scan: %.3g exp/s = %.1f%% of the SFU peak (16/clk/SM x 132 SMs at 1.755 GHz)\n",
               rows * Di * N / (ts * 1e-3), 100.0 * rows * Di * N / (ts * 1e-3) / (16.0 * 132 * 1.755e9));
    }

    /* decode: one layer with L2 cold, then 76 layers back to back */
    for (int B : {1, 4}) {
        MShape s = z;
        s.batch = B;
        DevBuf<uint16_t> sxz((size_t)B * 2 * Di), scs((size_t)B * Di * s.K), sy((size_t)B * Di);
        DevBuf<float> sss((size_t)B * Di * N);
        DevBuf<uint8_t> scratch(zbk_mamba_step_scratch_bytes(B, Di, s.nh, s.R, N));
        dev_fill(sxz, 7, -2.0f, 2.0f), dev_fill(scs, 8, -1.0f, 1.0f), dev_fill(sss, 9, -1.0f, 1.0f);
        const double wbytes = (double)s.nh * P * s.Dh() * 2 + (double)Di * s.R * 2;
        const double stbytes = 2.0 * B * Di * N * 4 + 2.0 * B * Di * s.K * 2;
        const double iobytes = (double)B * 3 * Di * 2; /* xz in, y out */
        const double t1 = time_median_ms([&] { dev_step(s, sxz.p, w, scs.p, sss.p, sy.p, scratch.p); }, 5, 50);
        char shape[64];
        snprintf(shape, sizeof shape, "Di7424 N16 batch%d 1 layer", B);
        bench_line("mamba_step", shape, t1, wbytes + stbytes + iobytes, 0);
        printf("       floor bytes %.2f MB (weights %.2f, states %.2f); A_log etc. add %.2f MB\n",
               (wbytes + stbytes + iobytes) / 1e6, wbytes / 1e6, stbytes / 1e6,
               ((double)Di * N * 4 + Di * (s.K + 3) * 4.0) / 1e6);

        const int L = 76;
        DevBuf<uint16_t> xp((size_t)L * s.nh * P * s.Dh()), dp((size_t)L * Di * s.R);
        DevBuf<float> lss((size_t)L * B * Di * N);
        DevBuf<uint16_t> lcs((size_t)L * B * Di * s.K);
        dev_fill(xp, 10, -0.03f, 0.03f), dev_fill(dp, 11, -0.1f, 0.1f), dev_fill(lss, 12, -1.0f, 1.0f);
        dev_fill(lcs, 13, -1.0f, 1.0f);
        auto layers = [&] {
            for (int l = 0; l < L; l++) {
                zbk_mamba_step_args a = {};
                a.xz = sxz.p, a.conv_w = w.conv_w.p, a.conv_b = w.conv_b.p;
                a.conv_state = lcs.p + (size_t)l * B * Di * s.K;
                a.x_proj = xp.p + (size_t)l * s.nh * P * s.Dh(), a.dt_proj = dp.p + (size_t)l * Di * s.R;
                a.dt_bias = w.dt_bias.p, a.A_log = w.A_log.p, a.D = w.D.p;
                a.ssm_state = lss.p + (size_t)l * B * Di * N, a.y = sy.p;
                a.batch = B, a.d_inner = Di, a.d_conv = s.K, a.d_state = N, a.nh = s.nh, a.dt_rank = s.R;
                a.act = s.act, a.scratch = scratch.p;
                CUDA_CHECK(zbk_mamba_step(&a, 0));
            }
        };
        const double tl = time_median_ms(layers, 2, 10);
        snprintf(shape, sizeof shape, "batch%d 76 layers, per layer", B);
        bench_line("mamba_step x76", shape, tl / L, wbytes + stbytes + iobytes, 0);
    }
}

/* One conv and one scan of a Zamba-7B layer at T 16384, for a profiler. */
void profile_once()
{
    const MShape z{"zamba7b", 1, 7424, 2, 16, 4, 232, ZB_ACT_SILU};
    const int T = 16384, Di = z.Di;
    HostW hw = make_weights(z, 4242);
    DevW w(hw);
    DevBuf<uint16_t> xz((size_t)T * 2 * Di), u((size_t)T * Di), y((size_t)T * Di), cs((size_t)Di * z.K);
    DevBuf<float> dt((size_t)T * Di), par((size_t)T * z.nh * z.P()), ss((size_t)Di * z.N);
    dev_fill(xz, 1, -2.0f, 2.0f), dev_fill(dt, 2, -2.0f, 1.0f), dev_fill(par, 3, -1.0f, 1.0f);
    dev_fill(cs, 4, -1.0f, 1.0f), dev_fill(ss, 5, -1.0f, 1.0f);
    dev_conv(z, T, xz, w, cs, u);
    dev_scan(z, T, u.p, xz.p, dt.p, par.p, w, ss.p, y.p);
    CUDA_CHECK(cudaDeviceSynchronize());
}

} // namespace

/* --bench: timings of the Zamba-7B shapes; --profile: one conv and one scan
 * at T 16384 (for ncu); --quick: the small shapes (for compute-sanitizer). */
int main(int argc, char **argv)
{
    if (!gpu_available("test_mamba")) return 0;
    if (has_arg(argc, argv, "--profile")) {
        profile_once();
        return 0;
    }
    if (want_bench(argc, argv)) {
        bench();
        return 0;
    }
    const MShape tiny{"tiny128", 1, 128, 2, 16, 4, 8, ZB_ACT_SILU};
    const MShape tiny3{"tiny192x3", 3, 192, 2, 16, 4, 6, ZB_ACT_SILU};
    const MShape gelu{"gelu-k3-n8", 2, 128, 2, 8, 3, 8, ZB_ACT_GELU};
    const MShape odd{"odd-dh60-n24", 2, 120, 2, 24, 2, 5, ZB_ACT_SILU};      /* generic scan path */
    const MShape wide{"n32-k8", 1, 256, 4, 32, 8, 16, ZB_ACT_GELU_TANH};
    const MShape big{"n64-relu", 2, 64, 1, 64, 1, 4, ZB_ACT_RELU};           /* generic, 2 states a lane */
    const MShape narrow{"di90", 2, 90, 2, 16, 4, 6, ZB_ACT_SILU};            /* scalar conv / x_proj */
    const MShape zamba{"zamba7b", 1, 7424, 2, 16, 4, 232, ZB_ACT_SILU};
    /* --quick: the small shapes only (for compute-sanitizer runs) */
    const bool quick = has_arg(argc, argv, "--quick");
    uint64_t seed = 100;

    for (const MShape *s : {&tiny, &tiny3, &gelu, &odd, &wide, &big, &narrow})
        for (int T : {1, 2, 3, 7, 33, 100})
            test_conv(*s, T, T > 1 ? T / 2 + 1 : 0, seed++);
    test_conv(tiny3, 1000, 517, seed++);
    if (!quick) test_conv(zamba, 2048, 1000, seed++);
    printf("conv done\n");

    for (const MShape *s : {&tiny, &tiny3, &gelu, &odd, &wide, &big, &narrow})
        for (int T : {1, 7, 33, 100})
            test_scan(*s, T, T > 1 ? T / 2 + 1 : 0, seed++);
    test_scan(tiny, 1000, 333, seed++);
    test_scan(tiny3, 1000, 64, seed++);
    if (!quick) test_scan(zamba, 2048, 1111, seed++);
    test_scan_fdt_refusals(tiny, odd);
    printf("scan done\n");

    for (const MShape *s : {&tiny, &tiny3, &gelu, &odd, &wide, &big, &narrow})
        for (int T : {1, 7, 33})
            test_mixer(*s, T, true, seed++);
    test_mixer(tiny3, 100, true, seed++);
    if (!quick) {
        MShape z8 = zamba;
        z8.batch = 8;
        z8.name = "zamba7b-b8";
        test_mixer(z8, 3, false, seed++);
        MShape z5 = zamba;
        z5.batch = 5;
        z5.name = "zamba7b-b5";
        test_mixer(z5, 2, false, seed++);
        MShape t11 = tiny;
        t11.batch = 11;
        t11.name = "tiny-b11";
        test_mixer(t11, 7, true, seed++);
    }
    if (!quick) test_mixer(zamba, 6, false, seed++);
    printf("mixer done\n");
    printf("%-34s %10s %10s\n", "check (worst over shapes)", "rel err", "bound");
    for (const auto &w : g_worst) printf("%-34s %10.3g %10.3g\n", w.what, w.err, w.tol);
    if (g_failed) {
        printf("test_mamba: %d of %d checks FAILED\n", g_failed, g_checks);
        return 1;
    }
    printf("test_mamba: %d checks passed\n", g_checks);
    return 0;
}
