// Kernels of the optim area, compiled once per instruction set (see pygd/isa.hpp).
// (Filled in by the optim issue.)
#include "pygd/isa.hpp"
