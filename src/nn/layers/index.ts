/** The nn layers (PyTorch / timm semantics). */
export * from './linear.js';
export * from './norm.js';
export * from './activation.js';
export * from './dropout.js';
export * from './attention.js';
export * from './mlp.js';
export * from './block.js';
export * from './container.js';
export * from './patch_embed.js';
