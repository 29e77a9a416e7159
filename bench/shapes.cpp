// The SGEMM shapes nn_bench measures: the one place they are listed.
// Names encode M x N x K and which operand is transposed (_At: A stored K x M,
// _Bt: B stored N x K), so a benchmark name alone says what was multiplied.
#include "bench.h"

namespace nnb {

const std::vector<Shape> &shapes()
{
    static const std::vector<Shape> table = {
        // name                     M      N     K  A^T    B^T    origin
        {"square_64",              64,    64,   64, false, false, "square"},
        {"square_128",            128,   128,  128, false, false, "square"},
        {"square_256",            256,   256,  256, false, false, "square"},
        {"square_512",            512,   512,  512, false, false, "square"},
        {"square_1024",          1024,  1024, 1024, false, false, "square"},
        {"square_2048",          2048,  2048, 2048, false, false, "square"},
        // MLP 784-256-256-10, batch 100: Y = X W, dW = X^T dY, dX = dY W^T.
        {"mlp_100x256x784",       100,   256,  784, false, false, "dense 784->256 forward"},
        {"mlp_100x256x256",       100,   256,  256, false, false, "dense 256->256 forward"},
        {"mlp_100x10x256",        100,    10,  256, false, false, "dense 256->10 forward"},
        {"mlp_784x256x100_At",    784,   256,  100, true,  false, "dense 784->256 dW"},
        {"mlp_256x256x100_At",    256,   256,  100, true,  false, "dense 256->256 dW"},
        {"mlp_100x256x256_Bt",    100,   256,  256, false, true,  "dense 256->256 dX"},
        // CNN conv 3x3 (1->32 on 28x28, 32->64 on 13x13) by im2col: W (Cout x Cin*9) * col.
        {"conv_32x676x9",          32,   676,    9, false, false, "conv1 forward, 1 image"},
        {"conv_64x121x288",        64,   121,  288, false, false, "conv2 forward, 1 image"},
        {"conv_32x43264x9",        32, 43264,    9, false, false, "conv1 forward, batch 64"},
        {"conv_64x7744x288",       64,  7744,  288, false, false, "conv2 forward, batch 64"},
        {"conv_64x288x7744_Bt",    64,   288, 7744, false, true,  "conv2 dW, batch 64"},
    };
    return table;
}

}  // namespace nnb
