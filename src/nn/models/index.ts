/** The models of the lab: MLP, ViT, MLP-Mixer. */
export * from './classifier.js';
export * from './mlp.js';
export * from './vit.js';
export * from './mixer.js';
