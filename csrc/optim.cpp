// Driver of the optim area (threads, blocks, reductions).  (Filled in by the optim issue.)
#include "pygd/common.hpp"
