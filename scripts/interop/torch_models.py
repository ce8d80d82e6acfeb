"""Plain PyTorch models with strdist's (and the reference's) state_dict keys.

torchvision's ResNet layout (conv1/bn1/[maxpool]/layer1..4/fc) with the
classifier as a bias-free 1x1 conv, optional width multiplier and CIFAR-style
stem, and MobileNetV1 as `model.N.M` + `fc`. Dense convs only: a sparse
strdist checkpoint is made dense first (its effective weights), see
check_pytorch.py.
"""
import torch
import torch.nn as nn

STAGES = {"ResNet18": ([2, 2, 2, 2], False), "ResNet34": ([3, 4, 6, 3], False),
          "ResNet50": ([3, 4, 6, 3], True), "ResNet101": ([3, 4, 23, 3], True)}


def width(c, mult):
    return max(1, int(round(c * mult)))


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin, planes, stride, downsample):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin, planes, stride, downsample):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNet(nn.Module):
    def __init__(self, arch, num_classes, width_mult=1.0, cifar_stem=False, stem_stride=1, fc_bias=False):
        super().__init__()
        counts, bottleneck = STAGES[arch]
        block = Bottleneck if bottleneck else BasicBlock
        cin = width(64, width_mult)
        if cifar_stem:
            self.conv1 = nn.Conv2d(3, cin, 3, stem_stride, 1, bias=False)
            self.maxpool = nn.Identity()
        else:
            self.conv1 = nn.Conv2d(3, cin, 7, 2, 3, bias=False)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.bn1 = nn.BatchNorm2d(cin)
        self.relu = nn.ReLU(inplace=True)
        for stage, count in enumerate(counts):
            planes = width(64 << stage, width_mult)
            blocks = []
            for i in range(count):
                stride = 2 if i == 0 and stage > 0 else 1
                down = None
                if i == 0 and (stride != 1 or cin != planes * block.expansion):
                    down = nn.Sequential(nn.Conv2d(cin, planes * block.expansion, 1, stride, bias=False),
                                         nn.BatchNorm2d(planes * block.expansion))
                blocks.append(block(cin, planes, stride, down))
                cin = planes * block.expansion
            setattr(self, f"layer{stage + 1}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Conv2d(cin, num_classes, 1, bias=fc_bias)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for stage in range(4):
            x = getattr(self, f"layer{stage + 1}")(x)
        return self.fc(self.avgpool(x)).flatten(1)


class MobileNetV1(nn.Module):
    PLAN = [(32, 64, 1), (64, 128, 2), (128, 128, 1), (128, 256, 2), (256, 256, 1), (256, 512, 2)] + \
           [(512, 512, 1)] * 5 + [(512, 1024, 2), (1024, 1024, 1)]

    def __init__(self, num_classes, width_mult=1.0, fc_bias=False):
        super().__init__()
        w = lambda c: width(c, width_mult)
        layers = [nn.Sequential(nn.Conv2d(3, w(32), 3, 2, 1, bias=False), nn.BatchNorm2d(w(32)), nn.ReLU(inplace=True))]
        for cin, cout, stride in self.PLAN:
            layers.append(nn.Sequential(
                nn.Conv2d(w(cin), w(cin), 3, stride, 1, groups=w(cin), bias=False), nn.BatchNorm2d(w(cin)),
                nn.ReLU(inplace=True),
                nn.Conv2d(w(cin), w(cout), 1, bias=False), nn.BatchNorm2d(w(cout)), nn.ReLU(inplace=True)))
        self.model = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1))
        self.fc = nn.Conv2d(w(1024), num_classes, 1, bias=fc_bias)

    def forward(self, x):
        return self.fc(self.model(x)).flatten(1)


class FastGRNNCell(nn.Module):
    """EdgeML's FastGRNNCell (Kusupati et al. 2018): its parameter names, shapes and arithmetic."""

    def __init__(self, input_size, hidden_size, w_rank=None, u_rank=None):
        super().__init__()
        z = lambda *shape: nn.Parameter(torch.zeros(*shape))
        if w_rank:
            self.W1, self.W2 = z(input_size, w_rank), z(w_rank, hidden_size)
        else:
            self.W = z(input_size, hidden_size)
        if u_rank:
            self.U1, self.U2 = z(hidden_size, u_rank), z(u_rank, hidden_size)
        else:
            self.U = z(hidden_size, hidden_size)
        self.bias_gate, self.bias_update = z(1, hidden_size), z(1, hidden_size)
        self.zeta, self.nu = z(1, 1), z(1, 1)

    def forward(self, x, h):
        w = x @ self.W1 @ self.W2 if hasattr(self, "W1") else x @ self.W
        u = h @ self.U1 @ self.U2 if hasattr(self, "U1") else h @ self.U
        pre = w + u
        zt = torch.sigmoid(pre + self.bias_gate)
        c = torch.tanh(pre + self.bias_update)
        return zt * h + (torch.sigmoid(self.zeta) * (1 - zt) + torch.sigmoid(self.nu)) * c


class FastGRNN(nn.Module):
    """strdist's `arch: FastGRNN`: the cell over an image's rows (every channel's row t is step t), then
    a linear classifier on the last state."""

    def __init__(self, num_classes, input_size, hidden_size, w_rank=None, u_rank=None):
        super().__init__()
        self.rnn = FastGRNNCell(input_size, hidden_size, w_rank, u_rank)
        self.classifier = nn.Linear(hidden_size, num_classes)
        self.hidden_size = hidden_size

    def forward(self, x):
        n, c, rows, width = x.shape
        seq = x.permute(2, 0, 1, 3).reshape(rows, n, c * width)
        h = torch.zeros(n, self.hidden_size)
        for t in range(rows):
            h = self.rnn(seq[t], h)
        return self.classifier(h)


def build(arch, num_classes, width_mult=1.0, cifar_stem=False, stem_stride=1, fc_bias=False):
    if arch == "MobileNetV1":
        return MobileNetV1(num_classes, width_mult, fc_bias)
    return ResNet(arch, num_classes, width_mult, cifar_stem, stem_stride, fc_bias)
