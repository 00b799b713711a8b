"""``MPVGPretrained``: mmengine's ``Pretrained`` init that chooses between the trained
and the EMA weights of a checkpoint written with mmengine's ``EMAHook``.

mmengine's ``EMAHook.before_save_checkpoint`` saves the EMA weights as ``state_dict`` and
the trained ones as ``ema_state_dict`` (keys ``module.<key>``, plus the average's
``steps``): ``_swap_ema_state_dict`` exchanges them so that the file deploys the EMA.
mmengine's ``Pretrained`` reads ``state_dict``, i.e. the EMA weights. The dense
references (ViT-Adapter, mmseg's DeiT UperNet) start from DeiT's released weights, the
trained model whose accuracy DeiT's ``main.py`` reports (our classifiers validate those
too); T2T-ViT's ``transfer_learning.py`` starts from the EMA (timm's
``load_checkpoint(..., use_ema=True)``, whose term ``use_ema`` this init takes).
"""
from mmengine.logging import print_log
from mmengine.model.weight_init import PretrainedInit, update_init_info

#: mmengine's ``EMAHook`` checkpoint keys: the trained weights, and their key prefix there.
EMA_KEY, EMA_PREFIX = 'ema_state_dict', 'module.'


def select_weights(checkpoint: dict, use_ema: bool, filename: str = 'the checkpoint'):
    """The state dict of ``checkpoint`` that holds the wanted weights.

    Args:
        checkpoint: a loaded checkpoint: mmengine's (``state_dict`` [+ ``ema_state_dict``])
            or a bare state dict.
        use_ema: True: the EMA weights; False: the trained (non-EMA) weights.
        filename: named in the messages.

    Returns:
        ``(state_dict, description)``: the weights (keys as the model's) and which they are.

    Raises:
        ValueError: ``use_ema=True`` and the file holds no EMA (no ``ema_state_dict``).
    """
    state_dict = checkpoint.get('state_dict', checkpoint)
    ema = checkpoint.get(EMA_KEY)
    if not isinstance(ema, dict):
        if use_ema:
            raise ValueError(
                f'use_ema=True, but {filename} has no {EMA_KEY!r} (it was not trained '
                "with mmengine's EMAHook), so its only weights are the trained ones: load "
                'them with use_ema=False.')
        return state_dict, 'the trained weights (`state_dict`; the file has no EMA)'
    if use_ema:  # EMAHook swapped the EMA into `state_dict`
        return state_dict, "the EMA weights (`state_dict` of an EMAHook checkpoint)"
    trained = {k[len(EMA_PREFIX):]: v for k, v in ema.items() if k.startswith(EMA_PREFIX)}
    return trained, (f'the trained (non-EMA) weights (`{EMA_KEY}` of an EMAHook checkpoint, '
                     f'`{EMA_PREFIX}` stripped)')


class MPVGPretrained(PretrainedInit):
    """mmengine's ``Pretrained`` init (``PretrainedInit``) with a choice of weights, e.g.
    ``init_cfg=dict(type='MPVGPretrained', checkpoint=PATH, prefix='backbone.',
    use_ema=False)``.

    Args:
        checkpoint: the file (local path or URL, as mmengine's ``Pretrained``).
        prefix: the sub-module's prefix in the file (``'backbone.'``), stripped; None:
            the whole file (a ``module.`` prefix stripped, as mmengine's).
        map_location: as mmengine's.
        use_ema: False: the trained weights (``ema_state_dict`` of an ``EMAHook`` file,
            else its ``state_dict``); True: the EMA weights (``state_dict`` of an
            ``EMAHook`` file; a file without EMA is refused).

    The weights go through the module's ``load_state_dict`` (mmengine's, non-strict), so
    the backbones' load hooks (foreign-layout refusals, PE resampling) run as with
    ``Pretrained``. Which weights were loaded is logged.

    Raises:
        ValueError: ``use_ema=True`` and no EMA in the file; ``prefix`` matches no key.
    """

    def __init__(self, checkpoint, prefix=None, map_location='cpu', use_ema=False):
        super().__init__(checkpoint, prefix=prefix, map_location=map_location)
        self.use_ema = use_ema

    def __call__(self, module):
        from mmengine.runner.checkpoint import _load_checkpoint, load_state_dict
        checkpoint = _load_checkpoint(self.checkpoint, map_location=self.map_location,
                                      logger='current')
        state_dict, which = select_weights(checkpoint, self.use_ema, self.checkpoint)
        prefix = self.prefix or EMA_PREFIX  # no prefix: strip a DDP `module.` (mmengine's)
        if self.prefix and not prefix.endswith('.'):
            prefix += '.'
        selected = {k[len(prefix):] if k.startswith(prefix) else k: v
                    for k, v in state_dict.items() if k.startswith(prefix) or not self.prefix}
        if not selected:
            raise ValueError(f'no key of {which} in {self.checkpoint} begins with '
                             f'{prefix!r} (prefix): check the prefix.')
        print_log(f'load {self.prefix or "the model"} from {self.checkpoint}: {which}',
                  logger='current')
        load_state_dict(module, selected, strict=False, logger='current')
        if hasattr(module, '_params_init_info'):
            update_init_info(module, init_info=self._get_init_info())

    def _get_init_info(self):
        return (f'{self.__class__.__name__}: load from {self.checkpoint} '
                f'({"EMA" if self.use_ema else "trained"} weights)')
