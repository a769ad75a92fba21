/* gst-rooms: the fast tile scaler of mcucompositor and the worker pool.
 *
 * Fixed point: every filter's weights sum to 256.  The vertical pass turns
 * 8-bit rows into one 16-bit row (value * 256); the horizontal pass weighs
 * that row again and rounds, so a solid colour stays exact at any scale and
 * exact 2:1 / 3:1 box averages round correctly.  (Before a general
 * horizontal filter the vertical result is rounded to 8 bits, so that the
 * weighted sums of eight rows fit 16-bit lanes: two roundings, error <= 1.)
 *
 * Row loops are plain counted loops that g++ -O2 vectorises (the file asks
 * for the "cheap" vectoriser cost model, checked with -fopt-info-vec).  The
 * general horizontal filter, a gather per output sample, is instead run on
 * blocks of eight rows transposed into the lanes of GCC vector-extension
 * types (portable across GCC targets): that made the 9-tile grid 3x faster.
 *
 * Filter tables are cached by geometry (see cached_axis), so a tile whose
 * rectangle does not change costs no table building and no allocation.
 */
#include "tilescaler.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace {

/* ---- worker pool ------------------------------------------------------- */

/* TRUE while this thread runs a task of the pool: nested calls run inline. */
thread_local bool in_pool_task = false;

class WorkerPool {
public:
  static WorkerPool &get ()
  {
    /* Created on first use; destroyed (threads joined) at exit. */
    static WorkerPool pool;
    return pool;
  }

  guint n_threads () const { return workers_.size () + 1; }

  void run (guint n, const std::function<void (guint)> &fn)
  {
    if (n == 0)
      return;
    if (n == 1 && !in_pool_task) {
      /* Not a task: a single tile may still spread its bands on the pool. */
      fn (0);
      return;
    }
    std::unique_lock<std::mutex> submit (submit_, std::defer_lock);
    if (in_pool_task || workers_.empty () || !submit.try_lock ()) {
      run_inline (n, fn);
      return;
    }
    {
      std::lock_guard<std::mutex> lock (lock_);
      job_ = &fn;
      n_ = n;
      next_.store (0);
      done_.store (0);
      error_ = nullptr;
      generation_++;
    }
    wake_.notify_all ();

    in_pool_task = true;
    drain (fn, n);
    in_pool_task = false;

    std::exception_ptr error;
    {
      std::unique_lock<std::mutex> lock (lock_);
      idle_.wait (lock, [&] { return done_.load () == n && active_ == 0; });
      job_ = nullptr;
      error = error_;
      error_ = nullptr;
    }
    if (error)
      std::rethrow_exception (error);
  }

  ~WorkerPool ()
  {
    {
      std::lock_guard<std::mutex> lock (lock_);
      stop_ = true;
    }
    wake_.notify_all ();
    for (std::thread &t : workers_)
      t.join ();
  }

private:
  WorkerPool ()
  {
    guint cores = std::max (1u, std::thread::hardware_concurrency ());
    for (guint i = 1; i < cores; i++)
      workers_.emplace_back ([this] { worker_main (); });
  }

  static void run_inline (guint n, const std::function<void (guint)> &fn)
  {
    bool was_in_task = in_pool_task;
    in_pool_task = true;
    try {
      for (guint i = 0; i < n; i++)
        fn (i);
    } catch (...) {
      in_pool_task = was_in_task;
      throw;
    }
    in_pool_task = was_in_task;
  }

  /* Takes indices until none is left; counts each one done even if it
   * throws, so the caller never waits forever. */
  void drain (const std::function<void (guint)> &fn, guint n)
  {
    for (guint i = next_.fetch_add (1); i < n; i = next_.fetch_add (1)) {
      try {
        fn (i);
      } catch (...) {
        std::lock_guard<std::mutex> lock (lock_);
        if (!error_)
          error_ = std::current_exception ();
      }
      done_.fetch_add (1);
    }
  }

  void worker_main ()
  {
    std::unique_lock<std::mutex> lock (lock_);
    guint64 seen = 0;
    for (;;) {
      wake_.wait (lock, [&] { return stop_ || (job_ && generation_ != seen); });
      if (stop_)
        return;
      seen = generation_;
      const std::function<void (guint)> *fn = job_;
      guint n = n_;
      active_++;
      lock.unlock ();
      in_pool_task = true;
      drain (*fn, n);
      in_pool_task = false;
      lock.lock ();
      if (--active_ == 0)
        idle_.notify_all ();
    }
  }

  std::vector<std::thread> workers_; /* fixed after construction */
  std::mutex submit_; /* held by the one caller whose job is in the pool */
  std::mutex lock_;
  std::condition_variable wake_; /* lock_: a new job or stop */
  std::condition_variable idle_; /* lock_: a worker left the job */
  const std::function<void (guint)> *job_ = nullptr; /* lock_ */
  guint n_ = 0;                                      /* lock_ */
  guint64 generation_ = 0;                           /* lock_ */
  guint active_ = 0;           /* lock_: workers inside the current job */
  bool stop_ = false;          /* lock_ */
  std::exception_ptr error_;   /* lock_ */
  std::atomic<guint> next_{0}; /* next index to take */
  std::atomic<guint> done_{0}; /* indices finished */
};

/* ---- filters ----------------------------------------------------------- */

typedef guint16 v8u16 __attribute__ ((vector_size (16)));
typedef guint8 v8u8 __attribute__ ((vector_size (8)));

enum class Kind { COPY, DOWN2, DOWN3, GENERAL };

/* How one axis of a plane maps destination samples to source samples. */
struct AxisFilter {
  Kind kind = Kind::GENERAL;
  int taps = 1;
  int origin = 0; /* COPY, DOWN2, DOWN3: source sample of output 0 */
  int src_lo = 0; /* source samples read: [src_lo, src_hi) */
  int src_hi = 0;
  std::vector<gint32> first;   /* per output: first source sample */
  std::vector<guint16> weight; /* per output: taps weights summing to 256 */
  std::vector<v8u16> weight8;  /* the same, each in all eight lanes */
};

/* Builds the filter for @count outputs reading the source window [s0, s1)
 * (continuous, in samples), using only samples [lo, hi). */
void
build_axis (AxisFilter &f, double s0, double s1, int count, int lo, int hi)
{
  double scale = (s1 - s0) / count;
  bool aligned = s0 == std::floor (s0) && s0 >= lo && s1 <= hi;

  f.kind = Kind::GENERAL;
  if (aligned && scale == 1.0)
    f.kind = Kind::COPY;
  else if (aligned && scale == 2.0)
    f.kind = Kind::DOWN2;
  else if (aligned && scale == 3.0)
    f.kind = Kind::DOWN3;

  /* As many taps as the widest output covers. */
  int taps = 2;
  if (scale > 1.0) {
    taps = 1;
    for (int i = 0; i < count; i++) {
      double a = s0 + i * scale;
      taps = std::max (taps, (int)std::ceil (a + scale) - (int)std::floor (a));
    }
    taps = std::min (taps, 63);
  }
  taps = std::max (1, std::min (taps, hi - lo));
  f.taps = taps;
  f.first.resize (count);
  f.weight.resize ((size_t)count * taps);
  f.src_lo = hi;
  f.src_hi = lo;

  double w[64];
  for (int i = 0; i < count; i++) {
    /* Coverage of each source sample [j, j+1) by the output, as weights. */
    int j0, j1;
    double cover[64];
    if (scale > 1.0) {
      double a = s0 + i * scale, b = a + scale;
      j0 = (int)std::floor (a);
      j1 = std::min ((int)std::ceil (b), j0 + 63);
      for (int j = j0; j < j1; j++)
        cover[j - j0] =
            std::max (0.0, std::min (b, j + 1.0) - std::max (a, (double)j))
            / scale;
    } else {
      double p = s0 + (i + 0.5) * scale - 0.5;
      j0 = (int)std::floor (p);
      j1 = j0 + 2;
      cover[0] = 1.0 - (p - j0);
      cover[1] = p - j0;
    }
    /* Samples outside [lo, hi) fold onto the nearest edge sample. */
    int first = std::clamp (j0, lo, std::max (lo, hi - taps));
    std::fill (w, w + taps, 0.0);
    for (int j = j0; j < j1; j++) {
      int slot = std::clamp (j, lo, hi - 1) - first;
      w[std::clamp (slot, 0, taps - 1)] += cover[j - j0];
    }
    guint16 *q = &f.weight[(size_t)i * taps];
    int sum = 0, biggest = 0;
    for (int t = 0; t < taps; t++) {
      q[t] = (guint16)std::lround (w[t] * 256.0);
      sum += q[t];
      if (w[t] > w[biggest])
        biggest = t;
    }
    q[biggest] = (guint16)(q[biggest] + 256 - sum);
    f.first[i] = first;
    f.src_lo = std::min (f.src_lo, first);
    f.src_hi = std::max (f.src_hi, first + taps);
  }
  f.weight8.resize (f.weight.size ());
  for (size_t k = 0; k < f.weight.size (); k++)
    f.weight8[k] = v8u16{} + f.weight[k];
  if (f.kind != Kind::GENERAL) {
    /* The dedicated kernels read exactly the aligned window. */
    f.origin = (int)s0;
    f.src_lo = f.origin;
    f.src_hi = (int)s1;
  }
}

/* The filters of the last few geometries: a room's tiles keep theirs from
 * frame to frame, so tables are built when the layout changes, not per
 * frame. */
struct AxisKey {
  double s0, s1;
  int count, lo, hi;
  bool operator== (const AxisKey &o) const
  {
    return s0 == o.s0 && s1 == o.s1 && count == o.count && lo == o.lo
           && hi == o.hi;
  }
};

std::shared_ptr<const AxisFilter>
cached_axis (double s0, double s1, int count, int lo, int hi)
{
  struct Entry {
    AxisKey key;
    std::shared_ptr<const AxisFilter> filter;
    guint64 used;
  };
  static std::mutex lock;
  static std::vector<Entry> entries; /* lock */
  static guint64 clock;              /* lock */
  const size_t max_entries = 128;
  const AxisKey key{s0, s1, count, lo, hi};
  {
    std::lock_guard<std::mutex> guard (lock);
    for (Entry &e : entries)
      if (e.key == key) {
        e.used = ++clock;
        return e.filter;
      }
  }
  auto filter = std::make_shared<AxisFilter> ();
  build_axis (*filter, s0, s1, count, lo, hi);
  std::lock_guard<std::mutex> guard (lock);
  if (entries.size () < max_entries) {
    entries.push_back (Entry{key, filter, ++clock});
  } else {
    auto oldest = std::min_element (entries.begin (), entries.end (),
        [] (const Entry &a, const Entry &b) { return a.used < b.used; });
    *oldest = Entry{key, filter, ++clock};
  }
  return filter;
}

/* Per-thread scratch rows, grown once and reused. */

struct Scratch {
  std::vector<guint16> tmp;
  std::vector<guint8> out;
  std::vector<v8u16> cols; /* a block of 8 rows, column-major */
  std::vector<v8u16> hout; /* its horizontal result, column-major */
};
thread_local Scratch scratch;

/* ---- row kernels ------------------------------------------------------- */

/* Plain -O2 uses the "very cheap" vectoriser cost model, which gives up on
 * loops whose length is not a known multiple of the vector width; these row
 * loops are long, so let it vectorise them with a scalar tail. */
#pragma GCC push_options
#pragma GCC optimize("vect-cost-model=cheap")

/* tmp[x] = sum_t w[t] * rows[t][x] */
void
vertical_pass (
    const guint8 *const *rows, const guint16 *w, int taps, guint16 *tmp, int n)
{
  const guint8 *r0 = rows[0];
  const guint16 w0 = w[0];
  if (taps == 1) {
    for (int x = 0; x < n; x++)
      tmp[x] = (guint16)(r0[x] * w0);
    return;
  }
  const guint8 *r1 = rows[1];
  const guint16 w1 = w[1];
  if (taps == 2) {
    for (int x = 0; x < n; x++)
      tmp[x] = (guint16)(r0[x] * w0 + r1[x] * w1);
    return;
  }
  const guint8 *r2 = rows[2];
  const guint16 w2 = w[2];
  for (int x = 0; x < n; x++)
    tmp[x] = (guint16)(r0[x] * w0 + r1[x] * w1 + r2[x] * w2);
  for (int t = 3; t < taps; t++) {
    const guint8 *r = rows[t];
    const guint16 wt = w[t];
    for (int x = 0; x < n; x++)
      tmp[x] = (guint16)(tmp[x] + r[x] * wt);
  }
}

/* Horizontal pass of the general filter, for BPP interleaved channels and
 * TAPS taps (0 = any). */
template <int BPP, int TAPS>
void
horizontal_general (
    const guint16 *tmp, const AxisFilter &f, int n_out, guint8 *out)
{
  const int taps = TAPS ? TAPS : f.taps;
  const gint32 *first = f.first.data ();
  const guint16 *weight = f.weight.data ();
  for (int i = 0; i < n_out; i++) {
    const guint16 *p = tmp + (first[i] - f.src_lo) * BPP;
    const guint16 *w = weight + (size_t)i * taps;
    for (int k = 0; k < BPP; k++) {
      guint32 acc = 32768;
#pragma GCC unroll 4
      for (int t = 0; t < taps; t++)
        acc += (guint32)w[t] * p[t * BPP + k];
      out[i * BPP + k] = (guint8)(acc >> 16);
    }
  }
}

template <int BPP>
void
horizontal_pass (
    const guint16 *tmp, const AxisFilter &f, int n_out, guint8 *out)
{
  const int n = n_out * BPP;
  switch (f.kind) {
    case Kind::COPY:
      for (int x = 0; x < n; x++)
        out[x] = (guint8)((tmp[x] + 128) >> 8);
      break;
    case Kind::DOWN2:
      for (int i = 0; i < n_out; i++)
        for (int k = 0; k < BPP; k++)
          out[i * BPP + k] =
              (guint8)((tmp[2 * i * BPP + k] + tmp[(2 * i + 1) * BPP + k] + 256)
                       >> 9);
      break;
    case Kind::DOWN3:
      for (int i = 0; i < n_out; i++)
        for (int k = 0; k < BPP; k++) {
          guint32 sum = (guint32)tmp[3 * i * BPP + k]
                        + tmp[(3 * i + 1) * BPP + k]
                        + tmp[(3 * i + 2) * BPP + k];
          out[i * BPP + k] = (guint8)((sum + 384u) / 768u);
        }
      break;
    case Kind::GENERAL:
      if (f.taps == 2)
        horizontal_general<BPP, 2> (tmp, f, n_out, out);
      else if (f.taps == 3)
        horizontal_general<BPP, 3> (tmp, f, n_out, out);
      else
        horizontal_general<BPP, 0> (tmp, f, n_out, out);
      break;
  }
}

/* Exact 2:1 on both axes straight from two source rows. */
template <int BPP>
void
down2x2 (const guint8 *r0, const guint8 *r1, guint8 *out, int n_out)
{
  for (int i = 0; i < n_out; i++)
    for (int k = 0; k < BPP; k++) {
      int a = 2 * i * BPP + k, b = a + BPP;
      out[i * BPP + k] = (guint8)((r0[a] + r0[b] + r1[a] + r1[b] + 2) >> 2);
    }
}

/* Exact 3:1 on both axes straight from three source rows. */
template <int BPP>
void
down3x3 (const guint8 *r0, const guint8 *r1, const guint8 *r2, guint8 *out,
    int n_out)
{
  for (int i = 0; i < n_out; i++)
    for (int k = 0; k < BPP; k++) {
      int a = 3 * i * BPP + k, b = a + BPP, c = b + BPP;
      guint32 sum =
          r0[a] + r0[b] + r0[c] + r1[a] + r1[b] + r1[c] + r2[a] + r2[b] + r2[c];
      out[i * BPP + k] = (guint8)((sum + 4u) / 9u);
    }
}

/* Transposes an 8x8 block of 16-bit samples: m[r][c] becomes m[c][r].
 * Written out so the eight rows stay in registers. */
#define ROOM_SHUF(a, b, ...) __builtin_shuffle (a, b, (v8u16){__VA_ARGS__})
#define ROOM_LO16(a, b) ROOM_SHUF (a, b, 0, 8, 1, 9, 2, 10, 3, 11)
#define ROOM_HI16(a, b) ROOM_SHUF (a, b, 4, 12, 5, 13, 6, 14, 7, 15)
#define ROOM_LO32(a, b) ROOM_SHUF (a, b, 0, 1, 8, 9, 2, 3, 10, 11)
#define ROOM_HI32(a, b) ROOM_SHUF (a, b, 4, 5, 12, 13, 6, 7, 14, 15)
#define ROOM_LO64(a, b) ROOM_SHUF (a, b, 0, 1, 2, 3, 8, 9, 10, 11)
#define ROOM_HI64(a, b) ROOM_SHUF (a, b, 4, 5, 6, 7, 12, 13, 14, 15)
inline void
transpose8 (v8u16 &m0, v8u16 &m1, v8u16 &m2, v8u16 &m3, v8u16 &m4, v8u16 &m5,
    v8u16 &m6, v8u16 &m7)
{
  v8u16 b0 = ROOM_LO16 (m0, m1), b1 = ROOM_HI16 (m0, m1);
  v8u16 b2 = ROOM_LO16 (m2, m3), b3 = ROOM_HI16 (m2, m3);
  v8u16 b4 = ROOM_LO16 (m4, m5), b5 = ROOM_HI16 (m4, m5);
  v8u16 b6 = ROOM_LO16 (m6, m7), b7 = ROOM_HI16 (m6, m7);
  v8u16 c0 = ROOM_LO32 (b0, b2), c1 = ROOM_HI32 (b0, b2);
  v8u16 c2 = ROOM_LO32 (b1, b3), c3 = ROOM_HI32 (b1, b3);
  v8u16 c4 = ROOM_LO32 (b4, b6), c5 = ROOM_HI32 (b4, b6);
  v8u16 c6 = ROOM_LO32 (b5, b7), c7 = ROOM_HI32 (b5, b7);
  m0 = ROOM_LO64 (c0, c4);
  m1 = ROOM_HI64 (c0, c4);
  m2 = ROOM_LO64 (c1, c5);
  m3 = ROOM_HI64 (c1, c5);
  m4 = ROOM_LO64 (c2, c6);
  m5 = ROOM_HI64 (c2, c6);
  m6 = ROOM_LO64 (c3, c7);
  m7 = ROOM_HI64 (c3, c7);
}

inline v8u16
load8 (const guint16 *p)
{
  v8u16 v;
  memcpy (&v, p, sizeof (v));
  return v;
}

/* cols[x][r] = round (rows[r][x] / 256): eight 16-bit rows of @stride
 * samples into column-major 8-bit values. */
void
rows_to_cols (const guint16 *rows, int stride, int n, v8u16 *cols)
{
  int x = 0;
  for (; x + 8 <= n; x += 8) {
    const guint16 *p = rows + x;
    v8u16 m0 = (load8 (p) + 128) >> 8;
    v8u16 m1 = (load8 (p + stride) + 128) >> 8;
    v8u16 m2 = (load8 (p + 2 * stride) + 128) >> 8;
    v8u16 m3 = (load8 (p + 3 * stride) + 128) >> 8;
    v8u16 m4 = (load8 (p + 4 * stride) + 128) >> 8;
    v8u16 m5 = (load8 (p + 5 * stride) + 128) >> 8;
    v8u16 m6 = (load8 (p + 6 * stride) + 128) >> 8;
    v8u16 m7 = (load8 (p + 7 * stride) + 128) >> 8;
    transpose8 (m0, m1, m2, m3, m4, m5, m6, m7);
    v8u16 *c = cols + x;
    c[0] = m0, c[1] = m1, c[2] = m2, c[3] = m3;
    c[4] = m4, c[5] = m5, c[6] = m6, c[7] = m7;
  }
  for (; x < n; x++)
    for (int r = 0; r < 8; r++)
      cols[x][r] = (guint16)((rows[r * stride + x] + 128) >> 8);
}

inline void
store8 (guint8 *p, v8u16 v)
{
  v8u8 b = __builtin_convertvector(v, v8u8);
  memcpy (p, &b, sizeof (b));
}

/* out[r][x] = cols[x][r] for the first @n_rows rows. */
void
cols_to_rows (const v8u16 *cols, int n, guint8 *const *out, int n_rows)
{
  int x = 0;
  if (n_rows == 8) {
    /* The usual case, kept in registers. */
    for (; x + 8 <= n; x += 8) {
      const v8u16 *c = cols + x;
      v8u16 m0 = c[0], m1 = c[1], m2 = c[2], m3 = c[3];
      v8u16 m4 = c[4], m5 = c[5], m6 = c[6], m7 = c[7];
      transpose8 (m0, m1, m2, m3, m4, m5, m6, m7);
      store8 (out[0] + x, m0);
      store8 (out[1] + x, m1);
      store8 (out[2] + x, m2);
      store8 (out[3] + x, m3);
      store8 (out[4] + x, m4);
      store8 (out[5] + x, m5);
      store8 (out[6] + x, m6);
      store8 (out[7] + x, m7);
    }
  }
  for (; x + 8 <= n; x += 8) {
    v8u16 m[8];
    for (int j = 0; j < 8; j++)
      m[j] = cols[x + j];
    transpose8 (m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7]);
    for (int r = 0; r < n_rows; r++)
      store8 (out[r] + x, m[r]);
  }
  for (; x < n; x++)
    for (int r = 0; r < n_rows; r++)
      out[r][x] = (guint8)cols[x][r];
}

/* The general horizontal filter on a column-major block of 8 rows of 8-bit
 * values: one 8-lane multiply-add per tap and output sample, no gathers
 * across lanes. */
template <int BPP, int TAPS>
void
horizontal_block (const v8u16 *cols, const AxisFilter &f, int n_out, v8u16 *out)
{
  const int taps = TAPS ? TAPS : f.taps;
  const gint32 *first = f.first.data ();
  const v8u16 *weight = f.weight8.data ();
  for (int i = 0; i < n_out; i++) {
    const v8u16 *p = cols + (first[i] - f.src_lo) * BPP;
    const v8u16 *w = weight + (size_t)i * taps;
    for (int k = 0; k < BPP; k++) {
      v8u16 acc = {128, 128, 128, 128, 128, 128, 128, 128};
#pragma GCC unroll 4
      for (int t = 0; t < taps; t++)
        acc += w[t] * p[t * BPP + k];
      out[i * BPP + k] = acc >> 8;
    }
  }
}

/* dst = (src * a + dst * (256 - a) + 128) / 256 */
void
blend_row (const guint8 *src, guint8 *dst, int n, guint a)
{
  const guint16 sa = (guint16)a, da = (guint16)(256 - a);
  for (int x = 0; x < n; x++)
    dst[x] = (guint8)((src[x] * sa + dst[x] * da + 128) >> 8);
}

#pragma GCC pop_options

/* ---- planes ------------------------------------------------------------ */

/* One plane of one tile: where to read, where to write, and the filters. */
struct PlaneJob {
  const guint8 *src;
  gint src_stride;
  guint8 *dst; /* first byte of the destination rectangle */
  gint dst_stride;
  int bpp;    /* bytes per sample, all treated as channels */
  int vsub;   /* log2 vertical subsampling */
  int dst_y0; /* first destination row of the rectangle, in plane rows */
  int n_out;  /* destination samples per row */
  std::shared_ptr<const AxisFilter> fx, fy; /* shared, from filter_cache */
};

/* Rows whose horizontal filter is general, eight at a time: the vertical
 * pass makes eight rows, which are transposed so that the horizontal filter
 * runs on all eight in the lanes of one vector, then transposed back. */
template <int BPP>
void
scale_rows_blocked (const PlaneJob &job, int row0, int row1, guint alpha)
{
  const AxisFilter &fx = *job.fx, &fy = *job.fy;
  const int n_out = job.n_out, out_bytes = n_out * BPP;
  const int tmp_len = (fx.src_hi - fx.src_lo) * BPP;
  Scratch &s = scratch;
  if (s.tmp.size () < (size_t)tmp_len * 8)
    s.tmp.resize ((size_t)tmp_len * 8);
  if (s.cols.size () < (size_t)tmp_len)
    s.cols.resize (tmp_len);
  if (s.hout.size () < (size_t)out_bytes)
    s.hout.resize (out_bytes);
  if (alpha < 256 && s.out.size () < (size_t)out_bytes * 8)
    s.out.resize ((size_t)out_bytes * 8);

  const int taps = fy.taps;
  for (int i0 = row0; i0 < row1; i0 += 8) {
    const int n_rows = std::min (8, row1 - i0);
    for (int r = 0; r < 8; r++) {
      /* Past the last row, repeat it: the lanes are computed, not stored. */
      const int i = i0 + std::min (r, n_rows - 1);
      const guint8 *rows[64];
      for (int t = 0; t < taps; t++)
        rows[t] = job.src + (size_t)(fy.first[i] + t) * job.src_stride
                  + (size_t)fx.src_lo * BPP;
      vertical_pass (rows, &fy.weight[(size_t)i * taps], taps,
          s.tmp.data () + (size_t)r * tmp_len, tmp_len);
    }
    rows_to_cols (s.tmp.data (), tmp_len, tmp_len, s.cols.data ());
    if (fx.taps == 2)
      horizontal_block<BPP, 2> (s.cols.data (), fx, n_out, s.hout.data ());
    else if (fx.taps == 3)
      horizontal_block<BPP, 3> (s.cols.data (), fx, n_out, s.hout.data ());
    else
      horizontal_block<BPP, 0> (s.cols.data (), fx, n_out, s.hout.data ());

    guint8 *out[8];
    for (int r = 0; r < n_rows; r++)
      out[r] = alpha < 256 ? s.out.data () + (size_t)r * out_bytes
                           : job.dst + (size_t)(i0 + r) * job.dst_stride;
    cols_to_rows (s.hout.data (), out_bytes, out, n_rows);
    if (alpha < 256)
      for (int r = 0; r < n_rows; r++)
        blend_row (out[r], job.dst + (size_t)(i0 + r) * job.dst_stride,
            out_bytes, alpha);
  }
}

template <int BPP>
void
scale_rows (const PlaneJob &job, int row0, int row1, guint alpha)
{
  const AxisFilter &fx = *job.fx, &fy = *job.fy;
  const int n_out = job.n_out, out_bytes = n_out * BPP;
  Scratch &s = scratch;
  if (alpha < 256 && s.out.size () < (size_t)out_bytes)
    s.out.resize (out_bytes);
  const int tmp_len = (fx.src_hi - fx.src_lo) * BPP;
  if (fx.kind == Kind::GENERAL || fy.kind == Kind::GENERAL
      || fx.kind != fy.kind) {
    if (s.tmp.size () < (size_t)tmp_len)
      s.tmp.resize (tmp_len);
  }

  if (fx.kind == Kind::GENERAL) {
    scale_rows_blocked<BPP> (job, row0, row1, alpha);
    return;
  }

  for (int i = row0; i < row1; i++) {
    guint8 *dst = job.dst + (size_t)i * job.dst_stride;
    guint8 *out = alpha < 256 ? s.out.data () : dst;
    const guint8 *rows[64];
    const int taps = fy.taps;
    for (int t = 0; t < taps; t++)
      rows[t] = job.src + (size_t)(fy.first[i] + t) * job.src_stride
                + (size_t)fx.src_lo * BPP;

    if (fx.kind == Kind::COPY && fy.kind == Kind::COPY) {
      const guint8 *r = job.src + (size_t)(i + fy.origin) * job.src_stride
                        + (size_t)fx.origin * BPP;
      if (alpha < 256) {
        blend_row (r, dst, out_bytes, alpha);
        continue;
      }
      memcpy (out, r, out_bytes);
    } else if (fx.kind == Kind::DOWN2 && fy.kind == Kind::DOWN2) {
      const guint8 *r0 = job.src + (size_t)(2 * i + fy.origin) * job.src_stride
                         + (size_t)fx.origin * BPP;
      down2x2<BPP> (r0, r0 + job.src_stride, out, n_out);
    } else if (fx.kind == Kind::DOWN3 && fy.kind == Kind::DOWN3) {
      const guint8 *r0 = job.src + (size_t)(3 * i + fy.origin) * job.src_stride
                         + (size_t)fx.src_lo * BPP;
      down3x3<BPP> (
          r0, r0 + job.src_stride, r0 + 2 * (size_t)job.src_stride, out, n_out);
    } else {
      vertical_pass (
          rows, &fy.weight[(size_t)i * taps], taps, s.tmp.data (), tmp_len);
      horizontal_pass<BPP> (s.tmp.data (), fx, n_out, out);
    }
    if (alpha < 256)
      blend_row (out, dst, out_bytes, alpha);
  }
}

void
scale_plane_rows (const PlaneJob &job, int row0, int row1, guint alpha)
{
  switch (job.bpp) {
    case 1:
      scale_rows<1> (job, row0, row1, alpha);
      break;
    case 2:
      scale_rows<2> (job, row0, row1, alpha);
      break;
    case 3:
      scale_rows<3> (job, row0, row1, alpha);
      break;
    case 4:
      scale_rows<4> (job, row0, row1, alpha);
      break;
  }
}

/* Per-thread plane jobs, reused so the filters' vectors keep their storage. */
thread_local PlaneJob plane_jobs[GST_VIDEO_MAX_PLANES];

int
ceil_shift (int v, int shift)
{
  return -((-v) >> shift);
}

} // namespace

gboolean
gst_room_tile_scale_supported (GstVideoFormat format)
{
  switch (format) {
    case GST_VIDEO_FORMAT_I420:
    case GST_VIDEO_FORMAT_YV12:
    case GST_VIDEO_FORMAT_Y41B:
    case GST_VIDEO_FORMAT_Y42B:
    case GST_VIDEO_FORMAT_Y444:
    case GST_VIDEO_FORMAT_A420:
    case GST_VIDEO_FORMAT_GRAY8:
    case GST_VIDEO_FORMAT_GBR:
    case GST_VIDEO_FORMAT_GBRA:
    case GST_VIDEO_FORMAT_NV12:
    case GST_VIDEO_FORMAT_NV21:
    case GST_VIDEO_FORMAT_NV16:
    case GST_VIDEO_FORMAT_NV61:
    case GST_VIDEO_FORMAT_NV24:
    case GST_VIDEO_FORMAT_RGB:
    case GST_VIDEO_FORMAT_BGR:
    case GST_VIDEO_FORMAT_v308:
    case GST_VIDEO_FORMAT_IYU2:
    case GST_VIDEO_FORMAT_RGBA:
    case GST_VIDEO_FORMAT_BGRA:
    case GST_VIDEO_FORMAT_ARGB:
    case GST_VIDEO_FORMAT_ABGR:
    case GST_VIDEO_FORMAT_RGBx:
    case GST_VIDEO_FORMAT_BGRx:
    case GST_VIDEO_FORMAT_xRGB:
    case GST_VIDEO_FORMAT_xBGR:
    case GST_VIDEO_FORMAT_AYUV:
    case GST_VIDEO_FORMAT_VUYA:
      return TRUE;
    default:
      return FALSE;
  }
}

static gboolean
tile_scale (const GstVideoFrame *src, gint sx, gint sy, gint sw, gint sh,
    GstVideoFrame *dst, gint dx, gint dy, gint dw, gint dh, gdouble alpha)
{
  const GstVideoFormat format = GST_VIDEO_FRAME_FORMAT (src);
  if (format != GST_VIDEO_FRAME_FORMAT (dst)
      || !gst_room_tile_scale_supported (format))
    return FALSE;
  if (!(alpha > 0.0) || sw <= 0 || sh <= 0 || dw <= 0 || dh <= 0)
    return TRUE;
  const guint a256 = (guint)std::lround (std::min (alpha, 1.0) * 256.0);
  if (a256 == 0)
    return TRUE;

  /* Clip the crop to the source frame. */
  const int src_w = GST_VIDEO_FRAME_WIDTH (src);
  const int src_h = GST_VIDEO_FRAME_HEIGHT (src);
  int sx1 = std::min (sx + sw, src_w), sy1 = std::min (sy + sh, src_h);
  sx = std::max (sx, 0);
  sy = std::max (sy, 0);
  if (sx1 <= sx || sy1 <= sy)
    return TRUE;
  sw = sx1 - sx;
  sh = sy1 - sy;

  /* Clip the rectangle to the destination frame; the source window follows
   * through the (continuous) mapping below. */
  const double xscale = (double)sw / dw, yscale = (double)sh / dh;
  const int dst_w = GST_VIDEO_FRAME_WIDTH (dst);
  const int dst_h = GST_VIDEO_FRAME_HEIGHT (dst);
  const int cx0 = std::max (dx, 0), cy0 = std::max (dy, 0);
  const int cx1 = std::min (dx + dw, dst_w), cy1 = std::min (dy + dh, dst_h);
  if (cx1 <= cx0 || cy1 <= cy0)
    return TRUE;

  const GstVideoFormatInfo *finfo = src->info.finfo;
  const int n_planes = GST_VIDEO_FRAME_N_PLANES (src);
  PlaneJob *jobs = plane_jobs;
  for (int p = 0; p < n_planes; p++) {
    int comp = 0;
    while (GST_VIDEO_FORMAT_INFO_PLANE (finfo, comp) != (guint)p)
      comp++;
    const int hsub = GST_VIDEO_FORMAT_INFO_W_SUB (finfo, comp);
    const int vsub = GST_VIDEO_FORMAT_INFO_H_SUB (finfo, comp);
    PlaneJob &job = jobs[p];
    job.bpp = GST_VIDEO_FORMAT_INFO_PSTRIDE (finfo, comp);
    job.vsub = vsub;
    /* A sample belongs to the rectangle when its top-left luma pixel does. */
    const int px0 = ceil_shift (cx0, hsub), px1 = ceil_shift (cx1, hsub);
    const int py0 = ceil_shift (cy0, vsub), py1 = ceil_shift (cy1, vsub);
    job.n_out = px1 - px0;
    job.dst_y0 = py0;
    job.src = (const guint8 *)GST_VIDEO_FRAME_PLANE_DATA (src, p);
    job.src_stride = GST_VIDEO_FRAME_PLANE_STRIDE (src, p);
    job.dst_stride = GST_VIDEO_FRAME_PLANE_STRIDE (dst, p);
    job.dst = (guint8 *)GST_VIDEO_FRAME_PLANE_DATA (dst, p)
              + (size_t)py0 * job.dst_stride + (size_t)px0 * job.bpp;
    if (job.n_out <= 0 || py1 <= py0) {
      job.n_out = 0;
      continue;
    }
    /* The samples' luma extents map linearly into the source crop. */
    const double hs = 1 << hsub, vs = 1 << vsub;
    const double s_x0 = (sx + (px0 * hs - dx) * xscale) / hs;
    const double s_x1 = (sx + (px1 * hs - dx) * xscale) / hs;
    const double s_y0 = (sy + (py0 * vs - dy) * yscale) / vs;
    const double s_y1 = (sy + (py1 * vs - dy) * yscale) / vs;
    const int plane_w = GST_VIDEO_FRAME_COMP_WIDTH (src, comp);
    const int plane_h = GST_VIDEO_FRAME_COMP_HEIGHT (src, comp);
    const int lo_x = sx >> hsub,
              hi_x = std::min (ceil_shift (sx1, hsub), plane_w);
    const int lo_y = sy >> vsub,
              hi_y = std::min (ceil_shift (sy1, vsub), plane_h);
    job.fx = cached_axis (s_x0, s_x1, job.n_out, lo_x, hi_x);
    job.fy = cached_axis (s_y0, s_y1, py1 - py0, lo_y, hi_y);
  }

  /* Bands of destination luma rows; each plane takes the rows sited in the
   * band, so bands partition every plane. */
  const int area = (cx1 - cx0) * (cy1 - cy0);
  guint n_bands = 1;
  if (!in_pool_task && area >= 128 * 128) {
    n_bands = 2 * WorkerPool::get ().n_threads ();
    n_bands = std::min<guint> (n_bands, (cy1 - cy0) / 8);
    n_bands = std::max (n_bands, 1u);
  }
  const int band_y0 = cy0, band_rows = cy1 - cy0;
  auto run_band = [&] (guint b) {
    const int y0 = band_y0 + (int)((gint64)band_rows * b / n_bands);
    const int y1 = band_y0 + (int)((gint64)band_rows * (b + 1) / n_bands);
    for (int p = 0; p < n_planes; p++) {
      const PlaneJob &job = jobs[p];
      if (job.n_out <= 0)
        continue;
      const int r0 = ceil_shift (y0, job.vsub) - job.dst_y0;
      const int r1 = ceil_shift (y1, job.vsub) - job.dst_y0;
      scale_plane_rows (job, std::max (r0, 0),
          std::min (r1, (int)job.fy->first.size ()), a256);
    }
  };
  if (n_bands == 1)
    run_band (0);
  else
    gst_room_parallel_for (n_bands, run_band);
  return TRUE;
}

gboolean
gst_room_tile_scale (const GstVideoFrame *src, gint sx, gint sy, gint sw,
    gint sh, GstVideoFrame *dst, gint dx, gint dy, gint dw, gint dh,
    gdouble alpha)
{
  try {
    return tile_scale (src, sx, sy, sw, sh, dst, dx, dy, dw, dh, alpha);
  } catch (...) {
    /* Out of memory for scratch rows: let the caller fall back. */
    return FALSE;
  }
}

void
gst_room_parallel_for (guint n, const std::function<void (guint)> &fn)
{
  WorkerPool::get ().run (n, fn);
}
