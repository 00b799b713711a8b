# Mask R-CNN with a ViT-Adapter-Ti backbone (MPVGViTAdapter around DeiT-Ti) and FPN:
# the detector of the paper's COCO experiments (Table 3). The adapter returns four
# 192-channel maps at strides 4/8/16/32; FPN turns them into five 256-channel levels
# (stride 64 by max-pooling) for the RPN, and the RoI heads read strides 4..32.
# Thin configs set backbone.pe_mode and backbone.init_cfg (the classification
# checkpoint of the same PE structure).
num_classes = 80
model = dict(
    type='MaskRCNN',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_mask=True,
        pad_size_divisor=32),
    backbone=dict(
        type='MPVGViTAdapter',
        arch='deit-tiny',
        pe_mode='mpvg',
        img_size=224,  # the grid pos_0 is stored at; resampled to every input
        drop_path_rate=0.1,
        # ViT-Adapter's COCO setting: 14x14 window attention in every block but the last
        # of each group (2, 5, 8, 11 attend globally)
        window_size=14,
        window_block_indexes=[0, 1, 3, 4, 6, 7, 9, 10],
        # ViT-Adapter-Ti: 4 interactions around blocks 0-2, 3-5, 6-8, 9-11
        interaction_indexes=[[0, 2], [3, 5], [6, 8], [9, 11]],
        spatial_prior_channels=64,
        deform_num_heads=6,
        deform_num_points=4,
        deform_value_ratio=1.0,
        with_cffn=True,
        cffn_ratio=0.25,
        num_extra_extractors=2,
        injector_gamma_init=0.0,
        norm_cfg=dict(type='SyncBN', requires_grad=True),  # BN on one device
        last_ln_pe_port='stride16',  # where MPVG's LN''(pos_0) enters (see the class)
        # no init_cfg here: thin configs add dict(type='Pretrained', checkpoint=...,
        # prefix='backbone.'), which mmengine cannot merge into a None
        with_cp=False),  # True saves memory on 1333x800 inputs
    neck=dict(type='FPN', in_channels=[192, 192, 192, 192], out_channels=256, num_outs=5),
    rpn_head=dict(
        type='RPNHead',
        in_channels=256,
        feat_channels=256,
        anchor_generator=dict(type='AnchorGenerator', scales=[8], ratios=[0.5, 1.0, 2.0],
                              strides=[4, 8, 16, 32, 64]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.0, 0.0, 0.0, 0.0],
                        target_stds=[1.0, 1.0, 1.0, 1.0]),
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
    roi_head=dict(
        type='StandardRoIHead',
        bbox_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
            out_channels=256,
            featmap_strides=[4, 8, 16, 32]),
        bbox_head=dict(
            type='Shared2FCBBoxHead',
            in_channels=256,
            fc_out_channels=1024,
            roi_feat_size=7,
            num_classes=num_classes,
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.0, 0.0, 0.0, 0.0],
                            target_stds=[0.1, 0.1, 0.2, 0.2]),
            reg_class_agnostic=False,
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
        mask_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=0),
            out_channels=256,
            featmap_strides=[4, 8, 16, 32]),
        mask_head=dict(
            type='FCNMaskHead',
            num_convs=4,
            in_channels=256,
            conv_out_channels=256,
            num_classes=num_classes,
            loss_mask=dict(type='CrossEntropyLoss', use_mask=True, loss_weight=1.0))),
    train_cfg=dict(
        rpn=dict(
            assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.7, neg_iou_thr=0.3,
                          min_pos_iou=0.3, match_low_quality=True, ignore_iof_thr=-1),
            sampler=dict(type='RandomSampler', num=256, pos_fraction=0.5, neg_pos_ub=-1,
                         add_gt_as_proposals=False),
            allowed_border=-1,
            pos_weight=-1,
            debug=False),
        rpn_proposal=dict(nms_pre=2000, max_per_img=1000,
                          nms=dict(type='nms', iou_threshold=0.7), min_bbox_size=0),
        rcnn=dict(
            assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5,
                          min_pos_iou=0.5, match_low_quality=True, ignore_iof_thr=-1),
            sampler=dict(type='RandomSampler', num=512, pos_fraction=0.25, neg_pos_ub=-1,
                         add_gt_as_proposals=True),
            mask_size=28,
            pos_weight=-1,
            debug=False)),
    test_cfg=dict(
        rpn=dict(nms_pre=1000, max_per_img=1000, nms=dict(type='nms', iou_threshold=0.7),
                 min_bbox_size=0),
        rcnn=dict(score_thr=0.05, nms=dict(type='nms', iou_threshold=0.5), max_per_img=100,
                  mask_thr_binary=0.5)))
