// pygd._core: creates the module and registers one area per binding file.
#include "bind/common.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "pygd's compiled kernels (private: use the pygd package)";
  pygd::register_config(m);
  pygd::register_options(m);  // before the functions whose signatures name its types
  pygd::register_linear(m);
  pygd::register_probe(m);
  pygd::register_optim(m);
  pygd::register_preprocessing(m);
  pygd::register_train(m);
}
