/* A fixed pool of worker threads that run the tasks of one call at a time, the caller included. */
#ifndef DIGIT_POOL_H
#define DIGIT_POOL_H

#include <stdint.h>

/* fn(ctx, task, thread): thread is in [0, pool_threads()), for per-thread scratch. */
typedef void (*task_fn)(void *ctx, int64_t task, int thread);

/* Sets the number of threads (the caller counts as one); 0 on success, -1 if a thread failed to start. */
int pool_set_threads(int threads);
int pool_threads(void);
/* Runs fn for every task in [0, tasks), spread over the threads; returns when all are done. */
void pool_run(int64_t tasks, task_fn fn, void *ctx);

#endif
