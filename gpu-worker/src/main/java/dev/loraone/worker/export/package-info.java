/**
 * Merged-model ONNX export and ONNX Runtime inference.
 *
 * <p>{@link dev.loraone.worker.export.BertOnnxExporter} writes a trained {@code BertLoraModel}
 * with its LoRA adapters folded into the base weights as a plain opset-17 ONNX encoder; {@link
 * dev.loraone.worker.export.OnnxEncoderSession} and {@link dev.loraone.worker.export.OnnxClassifier}
 * run such a file on text with ONNX Runtime. The DJL model is the oracle: an export must reproduce
 * the unmerged model's outputs to float32 round-off.
 */
package dev.loraone.worker.export;
