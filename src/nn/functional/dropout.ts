/** Fused dropout (shaders/dropout.wgsl): Philox mask drawn on the GPU and scaling in one pass. */
import { Tensor } from '../../runtime/tensor.js';

export interface DropoutOptions {
  /** Philox key. */
  seed?: number;
  /** Philox counter offset: distinct offsets give independent masks under one seed. */
  offset?: number;
  /** false: identity (eval mode). Default true. */
  training?: boolean;
}

export function dropout(x: Tensor, p: number, options: DropoutOptions = {}): Tensor { throw new Error('dropout: not implemented yet'); }
