// Bindings of the optim area.  (Filled in by the optim issue.)
#include "bind_common.hpp"

namespace pygd {

void register_optim(pybind11::module_& m) { (void)m; }

}  // namespace pygd
