from .optim_constructors import LayerDecayOptimWrapperConstructor, backbone_layer_depth

__all__ = ['LayerDecayOptimWrapperConstructor', 'backbone_layer_depth']
