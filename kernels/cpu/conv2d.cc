#include "kernels/cpu/cpu_ops.h"
