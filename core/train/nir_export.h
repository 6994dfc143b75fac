// NIR export (issue 20, ALGORITHM.md §15): a trained network written as an HDF5 file in
// the layout of the Neuromorphic Intermediate Representation (github.com/neuromorphs/NIR,
// nir.write / nir.read of NIR 1.0): a `version` string and the graph under `node`
// (`type` "NIRGraph", `nodes/<name>/` groups each holding its `type` string and its
// parameter datasets, `edges` a [E, 2] array of variable-length UTF-8 strings).
//
// The graph, in Layers order: an Input node ("input", shape [C, H, W] or [N]); per conv
// layer a Conv2d ("<layer>.synapse", the standardised weights Ŵ of §4 as the forward
// uses them, zero bias) then a CubaLIF ("<layer>.lif"); per linear layer a Flatten
// ("<layer>.flatten", when its input is [C, H, W]), an Affine ("<layer>.synapse", Ŵ, zero
// bias) and a CubaLIF; per pooling layer an AvgPool2d ("<layer>", kernel = stride, no
// padding); dropout layers none (the identity at inference); then an Output node
// ("output", shape [n_class]). The CubaLIF parameters come from τm, τs and the threshold
// by §15's mapping. Not exportable (UNIMPLEMENTED naming the layer or key): residual
// blocks, `pooling_type: max`, `forward_type: nonleaky`.
#ifndef EDBP_CORE_TRAIN_NIR_EXPORT_H_
#define EDBP_CORE_TRAIN_NIR_EXPORT_H_

#include <string>

#include "absl/status/status.h"
#include "core/network.h"

namespace edbp::train {

// The NIR version written to the file's `version` (the layout of nir.write in NIR 1.0.x).
inline constexpr char kNirVersion[] = "1.0.0";

// §15's CubaLIF parameters of a layer (dt = 1).
struct NirNeuron {
  double tau_mem = 0;  // -1 / ln(1 - θm)
  double tau_syn = 0;  // -1 / ln(1 - θs)
  double r = 1;
  double w_in = 0;  // (tau_mem - tau_syn) · θs / (θs - θm)
  double v_threshold = 0;
};
NirNeuron NirNeuronOf(const config::NetworkConfig& network, float threshold);

// Writes `net` (its config and current weights) to `path` as above, replacing a file
// there. Errors: UNIMPLEMENTED for what NIR cannot hold (see above); FAILED_PRECONDITION
// naming `path` when the file cannot be created or written (no directory, no
// permission, a full disk); those of copying the weights from the device. On error no
// file is left at `path` (the file is written under a temporary name and renamed).
absl::Status ExportNir(Network& net, const std::string& path);

// ExportNir of the network an edbp checkpoint holds: its config from the checkpoint's
// "config" metadata (as --resume reads it), its net.* weights, on the CPU. Used by
// `edbp-client download --format nir`. Errors: those of ReadSafeTensors, of the config
// (INVALID_ARGUMENT naming `checkpoint`: no stored config, or one that no longer
// validates), of loading the weights (LoadWeights: a tensor missing or of another
// shape, named) and of ExportNir.
absl::Status ExportNirFromCheckpoint(const std::string& checkpoint,
                                     const std::string& path);

}  // namespace edbp::train

#endif  // EDBP_CORE_TRAIN_NIR_EXPORT_H_
