// Kernels of the preprocessing area, compiled once per instruction set (see pygd/isa.hpp).
// (Filled in by the preprocessing issue.)
#include "pygd/isa.hpp"
