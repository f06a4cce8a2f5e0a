/**
 * Everything of src/nn: functional ops, Module / Parameter, layers, models, init, optimizers,
 * schedules, safetensors.
 */
export * from './functional/index.js';
export * from './module.js';
export * from './init.js';
export * from './layers/index.js';
export * from './models/index.js';
export * from './optim.js';
export * from './schedules.js';
export * from './safetensors.js';
export * from './metrics.js';
