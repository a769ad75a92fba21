/* gst-rooms: AnalysisWorker, the hand-off of the newest video frame from an
 * analysing element's streaming thread to one worker thread (qrdetect,
 * faceoverlayfilter), with one behaviour for every such element.
 *
 * The streaming thread submits jobs (a copy of the frame and whatever the
 * analysis needs); the worker runs the element's callback on each, with no
 * lock of this class held, and the callback hands its results back to the
 * element (under the element's own lock) and posts its messages.  At most
 * one job waits: a newer one replaces it (the newest frame wins), and the
 * replaced job is destroyed at once.  The element calls:
 *
 * - start() from GstBaseTransform::start and stop() from ::stop (READY and
 *   NULL): stop drops the waiting job, lets the job in flight finish and
 *   joins the thread;
 * - drain() at EOS: waits until the waiting job and the job in flight are
 *   done, so their messages are on the bus before EOS goes on;
 * - flush() at FLUSH_START: drops the waiting job, a frame from before the
 *   flush, without waiting for the job in flight (its results arrive).
 *
 * The callback must not throw: it turns OpenCV's exceptions into element
 * errors or warnings itself.  Lock order: this class's lock is the innermost
 * one; the callback runs without it, so it may take the element's locks, and
 * an element may call in here while holding its own. */
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

template <typename Job> class AnalysisWorker {
public:
  using Analyse = std::function<void (Job &job)>;
  /* Carries over to @newest what it must keep of the job it replaces. */
  using Merge = std::function<void (Job &newest, Job &replaced)>;

  AnalysisWorker () = default;
  AnalysisWorker (const AnalysisWorker &) = delete;
  AnalysisWorker &operator= (const AnalysisWorker &) = delete;
  ~AnalysisWorker () { stop (); }

  /* Starts the worker thread, which runs @analyse on each job; throws
   * std::system_error when the thread cannot be made. */
  void start (Analyse analyse)
  {
    stop ();
    std::lock_guard<std::mutex> lk (lock_);
    analyse_ = std::move (analyse);
    quit_ = false;
    running_ = false;
    finished_ = 0;
    pending_.reset ();
    thread_ = std::thread (&AnalysisWorker::loop, this);
    started_ = true;
  }

  /* Drops the waiting job, waits for the job in flight and joins the
   * thread.  Does nothing when the worker is not running. */
  void stop ()
  {
    std::optional<Job> dropped;
    {
      std::lock_guard<std::mutex> lk (lock_);
      if (!started_)
        return;
      quit_ = true;
      dropped = take (pending_);
    }
    wake_.notify_all ();
    done_.notify_all ();
    thread_.join ();
    std::lock_guard<std::mutex> lk (lock_);
    started_ = false;
    analyse_ = nullptr;
  }

  /* Hands @job over; a job still waiting is replaced, after @merge (when
   * given) carried its state over.  FALSE, dropping @job, when the worker
   * is not running. */
  bool submit (Job job, const Merge &merge = Merge ())
  {
    std::optional<Job> replaced; /* destroyed after the lock is released */
    {
      std::lock_guard<std::mutex> lk (lock_);
      if (!started_ || quit_)
        return false;
      if (pending_) {
        if (merge)
          merge (job, *pending_);
        replaced = take (pending_);
      }
      pending_.emplace (std::move (job));
    }
    wake_.notify_one ();
    return true;
  }

  /* No job waiting and none in flight. */
  bool idle ()
  {
    std::lock_guard<std::mutex> lk (lock_);
    return !pending_ && !running_;
  }

  /* Jobs finished since start(); a job counts once the worker is idle
   * again, so a caller that saw it finish may submit the next one. */
  std::uint64_t finished ()
  {
    std::lock_guard<std::mutex> lk (lock_);
    return finished_;
  }

  /* Waits until the waiting job and the job in flight are done (or the
   * worker stops). */
  void drain ()
  {
    std::unique_lock<std::mutex> lk (lock_);
    done_.wait (
        lk, [this] { return !started_ || quit_ || (!pending_ && !running_); });
  }

  /* Drops the waiting job; the job in flight goes on. */
  void flush ()
  {
    std::optional<Job> dropped;
    {
      std::lock_guard<std::mutex> lk (lock_);
      dropped = take (pending_);
    }
    done_.notify_all (); /* a drain may now be over */
  }

private:
  /* Moves the job out, leaving @from empty (a moved-from optional is not). */
  static std::optional<Job> take (std::optional<Job> &from)
  {
    std::optional<Job> job = std::move (from);
    from.reset ();
    return job;
  }

  void loop ()
  {
    std::unique_lock<std::mutex> lk (lock_);
    while (true) {
      wake_.wait (lk, [this] { return quit_ || pending_; });
      if (quit_)
        break;
      std::optional<Job> job = take (pending_);
      running_ = true;
      lk.unlock ();
      analyse_ (*job);
      job.reset (); /* frees the frame outside the lock */
      lk.lock ();
      running_ = false;
      finished_++;
      done_.notify_all ();
    }
  }

  std::mutex lock_;
  std::condition_variable wake_; /* a job waits, or quit_ */
  std::condition_variable done_; /* a job finished, was dropped, or quit_ */
  std::thread thread_;           /* start/stop only */
  Analyse analyse_;              /* set before the thread starts */
  bool started_ = false;         /* lock_ */
  bool quit_ = false;            /* lock_ */
  bool running_ = false;         /* lock_: a job is in flight */
  std::uint64_t finished_ = 0;   /* lock_: jobs done since start() */
  std::optional<Job> pending_;   /* lock_: the job waiting */
};
