// Frame-sequence transforms of the event data sets (ALGORITHM.md §11, §11.1): the
// random resized crop box both DVS data sets draw, the bilinear resize, and CIFAR10-DVS's
// training and test transforms with their NDA operations (roll, rotation, cutout).
//
// Every function acts on `planes` planes of height x width floats (a sample's
// [frames, C, H, W] block is frames·C planes): the same geometry for every frame and
// channel, as the reference applies its transforms to the whole [T, C, H, W] tensor.
// Draws come from the caller's std::mt19937_64 through fixed formulas (augment.h
// DrawBelow, DrawUnit), so a seed gives the same frames on every platform; they are not
// the reference's draws (it mixes torch's and numpy's generators).
#ifndef EDBP_CORE_DATA_DVS_TRANSFORM_H_
#define EDBP_CORE_DATA_DVS_TRANSFORM_H_

#include <cstdint>
#include <random>

namespace edbp::data {

// CIFAR10-DVS's network input: frames resized to 48x48 (§11.1).
inline constexpr int64_t kCifar10DvsInputSide = 48;

// A box of the frame: rows [top, top + height), columns [left, left + width).
struct CropBox {
  int64_t top = 0;
  int64_t left = 0;
  int64_t height = 0;
  int64_t width = 0;
  bool operator==(const CropBox&) const = default;
};

// torchvision's RandomResizedCrop.get_params with scale (min_scale, 1) and ratio
// (3/4, 4/3), §11: up to 10 tries of an area fraction s = min_scale + (1 - min_scale)·u
// and an aspect r = exp(ln 3/4 + (ln 4/3 - ln 3/4)·u') (u, u' DrawUnit), giving
// w = round(sqrt(s·H·W·r)), h = round(sqrt(s·H·W/r)); the first box with 0 < w <= W and
// 0 < h <= H gets top = DrawBelow(H - h + 1), then left = DrawBelow(W - w + 1). When no
// try fits: the whole frame (and no further draw).
CropBox DrawResizedCropBox(int64_t height, int64_t width, double min_scale,
                           std::mt19937_64& rng);

// The box of every plane resized to out_height x out_width by nearest neighbour
// (torch's interpolate mode "nearest": source row = box.top + floor(y·box.height /
// out_height), likewise columns); with `flip` the output's columns are mirrored.
void CropResizeNearest(const float* in, int64_t planes, int64_t height, int64_t width,
                       const CropBox& box, int64_t out_height, int64_t out_width,
                       bool flip, float* out);

// Bilinear resize of every plane (torch's interpolate mode "bilinear",
// align_corners = false, no antialiasing, as torchvision's Resize on a tensor before
// version 0.17), per axis: src = max((dst + 0.5)·in/out - 0.5, 0), i0 = floor(src),
// i1 = min(i0 + 1, in - 1), l1 = src - i0, l0 = 1 - l1; the output is
// l0y·(l0x·p[i0y][i0x] + l1x·p[i0y][i1x]) + l1y·(l0x·p[i1y][i0x] + l1x·p[i1y][i1x]), the
// weights computed in float32 as torch computes them.
void ResizeBilinear(const float* in, int64_t planes, int64_t height, int64_t width,
                    int64_t out_height, int64_t out_width, float* out);

// NDA's roll (torch.roll over H and W): out[y][x] = in[(y - dy) mod H][(x - dx) mod W].
void RollPlanes(const float* in, int64_t planes, int64_t height, int64_t width,
                int64_t dy, int64_t dx, float* out);

// NDA's rotation (torchvision's rotate on a tensor: nearest, no expansion, fill 0) by
// `degrees` counter-clockwise as displayed (y pointing down): with centred coordinates
// u = x - (W-1)/2, v = y - (H-1)/2 and a = degrees·π/180, the output at (x, y) is the
// input at (round(cos a·u - sin a·v + (W-1)/2), round(sin a·u + cos a·v + (H-1)/2)),
// rounding half to even (grid_sample's nearest), 0 where that is outside the frame.
void RotatePlanesNearest(const float* in, int64_t planes, int64_t height, int64_t width,
                         double degrees, float* out);

// NDA's cutout (the reference's Cutout(length)) in place: rows
// [clamp(cy - length/2, 0, H), clamp(cy + length/2, 0, H)) times the same of columns
// around cx are set to 0 (length/2 rounded down).
void CutoutPlanes(float* planes, int64_t count, int64_t height, int64_t width, int64_t cy,
                  int64_t cx, int64_t length);

// §11.1, CIFAR10-DVS's test transform on a sample's frames `in` [frames, C, H, W]:
// ResizeBilinear to 48x48. Writes [frames, C, 48, 48] to `out`; draws nothing.
void Cifar10DvsTestFrames(const float* in, int64_t frames, int64_t channels,
                          int64_t height, int64_t width, float* out);

// §11.1, CIFAR10-DVS's training transform (the reference's trans_t), drawing from `rng`
// in this order: the crop box (DrawResizedCropBox, min_scale 0.7) resized back to
// H x W by nearest neighbour; ResizeBilinear to 48x48; a mirror of the width axis when
// the top bit of one draw is set; then NDA with M = 1, N = 2: one operation chosen by
// DrawBelow(3) — 0: RollPlanes by dy = DrawBelow(11) - 5 then dx = DrawBelow(11) - 5;
// 1: RotatePlanesNearest by -30 + 60·DrawUnit degrees; 2: CutoutPlanes of length 16
// at cy = DrawBelow(48), then cx = DrawBelow(48). Writes [frames, C, 48, 48] to `out`.
void Cifar10DvsTrainingFrames(const float* in, int64_t frames, int64_t channels,
                              int64_t height, int64_t width, std::mt19937_64& rng,
                              float* out);

}  // namespace edbp::data

#endif  // EDBP_CORE_DATA_DVS_TRANSFORM_H_
