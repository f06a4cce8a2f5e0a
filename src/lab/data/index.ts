/**
 * The lab's data: readers for IDX files and Fashion-MNIST, the seeded synthetic set, the common
 * in-memory format, and the GPU-resident dataset with its batch samplers and augmentation.
 */
export * from './dataset.js';
export * from './idx.js';
export * from './fashion-mnist.js';
export * from './synthetic.js';
export * from './sampler.js';
export * from './augment.js';
export * from './gpu-dataset.js';
