/** The lab: data on the GPU, the training loop and checkpoints (the experiment runner builds on these). */
export * from './data/index.js';
export * from './trainer.js';
export * from './checkpoint.js';
export * from './analysis.js';
