package dev.loraone.bench;

import dev.loraone.worker.weights.BertConfig;

/**
 * Floating-point operations of one BERT classification step, counted from its matrix products (a
 * multiply-add is 2 FLOPs; LayerNorm, GELU, softmax and the embedding gather are not counted: they
 * are memory-bound and well under 1% of the total at L=128).
 *
 * <pre>
 *   T = B*L tokens, H hidden, I intermediate, heads*d = H, n layers, r rank, C classes
 *   linear    = n * 2*T*(4*H*H + 2*H*I)                 Q,K,V,O [H->H], FFN [H->I], [I->H]
 *   attention = n * 2*2*B*heads*L*L*d                   Q K^T and P V
 *   adapter   = n * 2*T*r*(4*(H+H) + (H+I) + (I+H))     x A^T [in->r], (x A^T) B^T [r->out]
 *   head      = 2*B*H*C
 *   forward   = linear + attention + adapter + head
 *
 *   conventional step = 3 * forward                     backward ~ 2x forward (dX and dW per product)
 *   LoRA-exact step   = forward + linear + 2*attention + 2*adapter + 2*head
 * </pre>
 *
 * The conventional count is the usual "training = 3x forward" model-FLOPs convention (Kaplan et al.
 * 2020, arXiv:2001.08361, section 2.1) and is what a full fine-tune really executes. In LoRA mode the
 * base weights are frozen, so their backward needs only dX = dY W (1x, no dW): the LoRA-exact count
 * is the work libtorch actually has to do, about two thirds of the conventional one. It still counts
 * dX of the first layer's Q,K,V, which autograd skips because the embeddings are frozen (about 2% of
 * the step at MiniLM's sizes).
 *
 * @param linearForward the base Linear products of the encoder, forward
 * @param attentionForward the two attention products per layer, forward
 * @param adapterForward the two LoRA adapter products per adapted Linear, forward
 * @param headForward the classification head, forward
 */
public record BertFlops(double linearForward, double attentionForward, double adapterForward, double headForward) {

  /** Counts one step on a batch of {@code batch x seq} tokens with rank-{@code rank} adapters on every Linear. */
  public static BertFlops of(BertConfig c, int batch, int seq, int rank, int numLabels) {
    double t = (double) batch * seq;
    double h = c.hiddenSize();
    double i = c.intermediateSize();
    int n = c.numLayers();
    double linear = n * 2 * t * (4 * h * h + 2 * h * i);
    double attention = n * 2.0 * 2.0 * batch * c.numHeads() * (double) seq * seq * c.headDim();
    double adapter = n * 2 * t * rank * (4 * (h + h) + (h + i) + (i + h));
    double head = 2.0 * batch * h * numLabels;
    return new BertFlops(linear, attention, adapter, head);
  }

  public double forward() {
    return linearForward + attentionForward + adapterForward + headForward;
  }

  /** Forward + backward with backward counted as 2x forward. */
  public double conventionalStep() {
    return 3 * forward();
  }

  /** Forward + backward of a LoRA step: frozen base Linears need dX only. */
  public double loraExactStep() {
    return forward() + linearForward + 2 * attentionForward + 2 * adapterForward + 2 * headForward;
  }
}
