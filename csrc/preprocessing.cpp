// Driver of the preprocessing area (threads, blocks, reductions).  (Filled in by the preprocessing issue.)
#include "pygd/common.hpp"
