// The reference model's state_dict keys for a residual network (issue 20), so that a
// ResNet checkpoint moves both ways between edbp and the reference's PyTorch model, as
// the plain networks' do (their keys net.{i}.* are the reference's already).
//
// The reference's SpikingResNet (networks/resnet.py) is a conv `conv1`, stages
// `layer1`, `layer2`, ... of BasicBlocks (`conv1`, `conv2` and, in a stage's first
// block, `downsample`), a pooling and a linear `fc`. A network of exactly that shape -
// a conv, residual blocks of which the first has a shortcut, a pooling, a linear - gets
// those names: block b (from 0) of stage s (from 1), a new stage starting at every block
// with a shortcut (where the reference's _make_layer puts a downsample). Any other
// network keeps edbp's names.
#ifndef EDBP_CORE_TRAIN_REFERENCE_NAMES_H_
#define EDBP_CORE_TRAIN_REFERENCE_NAMES_H_

#include <map>
#include <string>

#include "core/network.h"

namespace edbp::train {

// edbp's parameter name (Network::Parameters) -> the reference's state_dict key, e.g.
// net.1.shortcut.weight -> layer1.0.downsample.weight, net.0.norm_bias ->
// conv1.norm_bias, net.8.weight -> fc.weight. Empty for a network that is not shaped
// like SpikingResNet.
std::map<std::string, std::string> ReferenceResNetNames(const Network& net);

}  // namespace edbp::train

#endif  // EDBP_CORE_TRAIN_REFERENCE_NAMES_H_
