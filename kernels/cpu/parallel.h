// A fixed pool of worker threads for the CPU backend's ops.
//
// ParallelFor splits [0, n) into contiguous pieces of at least `grain` items (at most 8
// per thread) and runs fn(begin, end) for each on the pool, each thread taking the next
// piece when it is done with one (the calling thread takes part). Piece boundaries
// depend only on n, grain and the thread count; which thread runs a piece does not
// matter to any op (each output is computed within one piece). Nested calls from inside
// fn run serially.
// Thread-safe: concurrent top-level calls are serialised.
#ifndef EDBP_KERNELS_CPU_PARALLEL_H_
#define EDBP_KERNELS_CPU_PARALLEL_H_

#include <cstdint>
#include <functional>

namespace edbp::kernels::cpu {

// Number of threads ops use: EDBP_NUM_THREADS if set (>= 1), else the cores
// available to this process.
int NumThreads();

void ParallelFor(int64_t n, int64_t grain,
                 const std::function<void(int64_t begin, int64_t end)>& fn);

}  // namespace edbp::kernels::cpu

#endif  // EDBP_KERNELS_CPU_PARALLEL_H_
