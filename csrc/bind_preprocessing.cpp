// Bindings of the preprocessing area.  (Filled in by the preprocessing issue.)
#include "bind_common.hpp"

namespace pygd {

void register_preprocessing(pybind11::module_& m) { (void)m; }

}  // namespace pygd
