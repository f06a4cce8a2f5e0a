/**
 * Classification accuracy. The comparison happens on the host: predictions (argmax, i32) and
 * labels are read back once per call, which suits evaluation (a few calls per epoch), not the
 * training hot path.
 */
import { noGrad } from '../runtime/autograd.js';
import type { Tensor } from '../runtime/tensor.js';
import { argmax } from './functional/reduce.js';

/** Number of positions where the predicted class equals the label. */
export function countCorrect(predictions: ArrayLike<number>, labels: ArrayLike<number>): number {
  if (predictions.length !== labels.length) {
    throw new Error(`countCorrect: ${predictions.length} predictions for ${labels.length} labels`);
  }
  let correct = 0;
  for (let i = 0; i < labels.length; i++) if (predictions[i] === labels[i]) correct++;
  return correct;
}

/** Fraction of rows of `logits` [N, C] whose argmax equals the integer label [N]. */
export async function accuracy(logits: Tensor, labels: Tensor): Promise<number> {
  if (logits.rank !== 2) throw new Error(`accuracy: logits must be [N, C], got [${logits.shape}]`);
  if (labels.rank !== 1 || labels.shape[0] !== logits.shape[0]) {
    throw new Error(`accuracy: labels must be [${logits.shape[0]}] for logits [${logits.shape}], got [${labels.shape}]`);
  }
  if (labels.dtype === 'f32') throw new Error('accuracy: labels must be i32 or u32 class indices, got f32');
  const predicted = noGrad(() => argmax(logits, -1));
  try {
    const [p, l] = await Promise.all([predicted.toArray(), labels.toArray()]);
    return l.length === 0 ? NaN : countCorrect(p, l) / l.length;
  } finally {
    predicted.dispose();
  }
}
