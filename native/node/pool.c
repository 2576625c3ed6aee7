/*
 * Threads wait on a condition variable between calls and take tasks from one atomic counter
 * (dynamic scheduling: a thread slowed by the host takes fewer tasks instead of holding the
 * others back). The caller runs tasks too, so one thread means no worker at all.
 */
#include "pool.h"

#include <pthread.h>
#include <stdlib.h>

#define MAX_THREADS 64

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
/* One call at a time: Node worker threads that load the addon share this pool. */
static pthread_mutex_t calls = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_cond_t done = PTHREAD_COND_INITIALIZER;
static pthread_t workers[MAX_THREADS];
static int started = 0;     /* workers running */
static int wanted = 1;      /* threads in use, the caller included */
static uint64_t generation = 0;
static int busy = 0;        /* workers still in the current call */

static task_fn job_fn;
static void *job_ctx;
static int64_t job_tasks;
static int64_t next_task;   /* atomic */

static void drain(int thread) {
  for (;;) {
    int64_t task = __atomic_fetch_add(&next_task, 1, __ATOMIC_RELAXED);
    if (task >= job_tasks) return;
    job_fn(job_ctx, task, thread);
  }
}

static void *worker(void *arg) {
  int thread = (int)(intptr_t)arg;
  uint64_t seen = 0;
  pthread_mutex_lock(&lock);
  for (;;) {
    while (generation == seen || thread >= wanted) {
      if (generation != seen) seen = generation; /* a call this thread sits out */
      pthread_cond_wait(&wake, &lock);
    }
    seen = generation;
    pthread_mutex_unlock(&lock);
    drain(thread);
    pthread_mutex_lock(&lock);
    if (--busy == 0) pthread_cond_signal(&done);
  }
  return NULL;
}

int pool_set_threads(int threads) {
  if (threads < 1) threads = 1;
  if (threads > MAX_THREADS) threads = MAX_THREADS;
  pthread_mutex_lock(&calls);
  pthread_mutex_lock(&lock);
  int ok = 0;
  while (started < threads - 1) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int failed = pthread_create(&workers[started], &attr, worker, (void *)(intptr_t)(started + 1));
    pthread_attr_destroy(&attr);
    if (failed) {
      ok = -1;
      break;
    }
    started++;
  }
  wanted = started + 1 < threads ? started + 1 : threads;
  pthread_mutex_unlock(&lock);
  pthread_mutex_unlock(&calls);
  return ok;
}

int pool_threads(void) { return wanted; }

void pool_run(int64_t tasks, task_fn fn, void *ctx) {
  if (tasks <= 0) return;
  pthread_mutex_lock(&calls);
  if (wanted == 1 || tasks == 1) {
    for (int64_t t = 0; t < tasks; t++) fn(ctx, t, 0);
    pthread_mutex_unlock(&calls);
    return;
  }
  pthread_mutex_lock(&lock);
  job_fn = fn;
  job_ctx = ctx;
  job_tasks = tasks;
  __atomic_store_n(&next_task, 0, __ATOMIC_RELAXED);
  busy = wanted - 1;
  generation++;
  pthread_cond_broadcast(&wake);
  pthread_mutex_unlock(&lock);
  drain(0);
  pthread_mutex_lock(&lock);
  while (busy > 0) pthread_cond_wait(&done, &lock);
  pthread_mutex_unlock(&lock);
  pthread_mutex_unlock(&calls);
}
