#include "core/dist/communicator.h"

#include <cstdlib>

namespace edbp::dist {

void LocalCommunicator::Abort(int code) { std::exit(code); }

}  // namespace edbp::dist
