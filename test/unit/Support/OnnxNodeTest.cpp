//===- OnnxNodeTest.cpp - ONNX conformance vectors for Q/DQ ---------------===//
//
// Runs the QuantizeLinear / DequantizeLinear / DynamicQuantizeLinear node
// tests of Debian's libonnx-testdata through quark's ONNX-semantics
// numerics, and the same vectors through Quark's own integer quantizer where
// the two agree (the scales of these tests are powers of two or the inputs
// are exact, so reciprocal and division give the same codes).
//
//===----------------------------------------------------------------------===//

#include "quark/Support/OnnxQuant.h"
#include "quark/Support/ScalarQuant.h"

#include "onnx/onnx_pb.h"

#include "gtest/gtest.h"

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace {

#ifndef QUARK_ONNX_TESTDATA_DIR
#define QUARK_ONNX_TESTDATA_DIR "/usr/share/libonnx-testdata/data/node"
#endif

struct Tensor {
  int dataType = 0;
  std::vector<int64_t> dims;
  std::vector<double> values; // every element widened
};

bool readProto(const std::string &path, google::protobuf::Message &message) {
  std::ifstream in(path, std::ios::binary);
  return in && message.ParseFromIstream(&in);
}

Tensor toTensor(const onnx::TensorProto &proto) {
  Tensor tensor;
  tensor.dataType = proto.data_type();
  for (int64_t d : proto.dims())
    tensor.dims.push_back(d);
  const std::string &raw = proto.raw_data();
  switch (proto.data_type()) {
  case onnx::TensorProto::FLOAT:
    if (!raw.empty()) {
      std::vector<float> floats(raw.size() / 4);
      std::memcpy(floats.data(), raw.data(), raw.size());
      tensor.values.assign(floats.begin(), floats.end());
    } else {
      tensor.values.assign(proto.float_data().begin(),
                           proto.float_data().end());
    }
    break;
  case onnx::TensorProto::UINT8:
    if (!raw.empty())
      for (unsigned char c : raw)
        tensor.values.push_back(c);
    else
      tensor.values.assign(proto.int32_data().begin(),
                           proto.int32_data().end());
    break;
  case onnx::TensorProto::INT8:
    if (!raw.empty())
      for (char c : raw)
        tensor.values.push_back(static_cast<int8_t>(c));
    else
      tensor.values.assign(proto.int32_data().begin(),
                           proto.int32_data().end());
    break;
  case onnx::TensorProto::INT32:
    if (!raw.empty()) {
      std::vector<int32_t> ints(raw.size() / 4);
      std::memcpy(ints.data(), raw.data(), raw.size());
      tensor.values.assign(ints.begin(), ints.end());
    } else {
      tensor.values.assign(proto.int32_data().begin(),
                           proto.int32_data().end());
    }
    break;
  default:
    ADD_FAILURE() << "unexpected ONNX tensor type " << proto.data_type();
  }
  return tensor;
}

struct NodeTest {
  onnx::NodeProto node;
  std::vector<Tensor> inputs;
  std::vector<Tensor> outputs;
};

NodeTest loadNodeTest(const std::string &name) {
  NodeTest test;
  std::string dir = std::string(QUARK_ONNX_TESTDATA_DIR) + "/" + name;
  onnx::ModelProto model;
  EXPECT_TRUE(readProto(dir + "/model.onnx", model)) << dir;
  if (model.graph().node_size() > 0)
    test.node = model.graph().node(0);
  // Initializers (if any) come first, as the node's leading inputs.
  for (const onnx::TensorProto &init : model.graph().initializer())
    test.inputs.push_back(toTensor(init));
  for (int io = 0; io < 2; ++io) {
    for (int i = 0;; ++i) {
      std::string path = dir + "/test_data_set_0/" +
                         (io == 0 ? "input_" : "output_") +
                         std::to_string(i) + ".pb";
      onnx::TensorProto proto;
      if (!readProto(path, proto))
        break;
      (io == 0 ? test.inputs : test.outputs).push_back(toTensor(proto));
    }
  }
  return test;
}

int64_t axisAttribute(const onnx::NodeProto &node, int64_t fallback) {
  for (const onnx::AttributeProto &attribute : node.attribute())
    if (attribute.name() == "axis")
      return attribute.i();
  return fallback;
}

/// Index into a per-axis parameter vector for element `flat`.
size_t axisIndex(const Tensor &x, int64_t axis, size_t flat) {
  if (axis < 0)
    axis += static_cast<int64_t>(x.dims.size());
  size_t inner = 1;
  for (size_t d = axis + 1; d < x.dims.size(); ++d)
    inner *= x.dims[d];
  return (flat / inner) % x.dims[axis];
}

void checkQuantizeLinear(const std::string &name) {
  NodeTest test = loadNodeTest(name);
  ASSERT_EQ(test.inputs.size(), 3u) << name;
  ASSERT_EQ(test.outputs.size(), 1u) << name;
  const Tensor &x = test.inputs[0], &scale = test.inputs[1],
               &zero = test.inputs[2], &y = test.outputs[0];
  bool isUnsigned = zero.dataType == onnx::TensorProto::UINT8;
  int64_t qmin = isUnsigned ? 0 : -128, qmax = isUnsigned ? 255 : 127;
  int64_t axis = axisAttribute(test.node, 1);
  ASSERT_EQ(x.values.size(), y.values.size());
  for (size_t i = 0; i < x.values.size(); ++i) {
    size_t p = scale.values.size() == 1 ? 0 : axisIndex(x, axis, i);
    float s = static_cast<float>(scale.values[p]);
    int32_t zp = static_cast<int32_t>(zero.values[p]);
    float xi = static_cast<float>(x.values[i]);
    EXPECT_EQ(mlir::quark::onnxQuantizeLinear(xi, s, zp, qmin, qmax), y.values[i])
        << name << " element " << i;
    EXPECT_EQ(mlir::quark::quantizeInt(xi, s, zp, qmin, qmax), y.values[i])
        << name << " element " << i << " (Quark reciprocal form)";
  }
}

void checkDequantizeLinear(const std::string &name) {
  NodeTest test = loadNodeTest(name);
  ASSERT_EQ(test.inputs.size(), 3u) << name;
  const Tensor &q = test.inputs[0], &scale = test.inputs[1],
               &zero = test.inputs[2], &x = test.outputs[0];
  int64_t axis = axisAttribute(test.node, 1);
  for (size_t i = 0; i < q.values.size(); ++i) {
    size_t p = scale.values.size() == 1 ? 0 : axisIndex(q, axis, i);
    EXPECT_EQ(mlir::quark::onnxDequantizeLinear(
                  static_cast<int32_t>(q.values[i]),
                  static_cast<float>(scale.values[p]),
                  static_cast<int32_t>(zero.values[p])),
              static_cast<float>(x.values[i]))
        << name << " element " << i;
  }
}

TEST(OnnxNode, QuantizeLinear) { checkQuantizeLinear("test_quantizelinear"); }
TEST(OnnxNode, QuantizeLinearAxis) {
  checkQuantizeLinear("test_quantizelinear_axis");
}
TEST(OnnxNode, DequantizeLinear) {
  checkDequantizeLinear("test_dequantizelinear");
}
TEST(OnnxNode, DequantizeLinearAxis) {
  checkDequantizeLinear("test_dequantizelinear_axis");
}

TEST(OnnxNode, DynamicQuantizeLinear) {
  for (const char *name :
       {"test_dynamicquantizelinear", "test_dynamicquantizelinear_max_adjusted",
        "test_dynamicquantizelinear_min_adjusted"}) {
    NodeTest test = loadNodeTest(name);
    ASSERT_EQ(test.outputs.size(), 3u) << name;
    std::vector<float> x(test.inputs[0].values.begin(),
                         test.inputs[0].values.end());
    mlir::quark::OnnxDynamicQuantParams params =
        mlir::quark::onnxDynamicQuantizeParams(x);
    EXPECT_EQ(params.scale, static_cast<float>(test.outputs[1].values[0]))
        << name;
    EXPECT_EQ(params.zeroPoint, test.outputs[2].values[0]) << name;
    for (size_t i = 0; i < x.size(); ++i)
      EXPECT_EQ(mlir::quark::onnxQuantizeLinear(x[i], params.scale,
                                          params.zeroPoint, 0, 255),
                test.outputs[0].values[i])
          << name << " element " << i;
  }
}

} // namespace
