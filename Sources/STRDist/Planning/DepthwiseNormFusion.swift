// A depthwise conv and the BatchNorm after it in one loop over channels. When
// a BatchNorm alone reads a depthwise conv's output, the conv normalises each
// channel right after computing its planes (statistics and output, with the
// norm's ReLU), and in backward takes the norm's gradient of a channel right
// before that channel's own: the channel is read back from cache instead of
// memory, once each way. Under synchronized BN the two run apart (its
// statistics wait for an all-reduce over all channels), and so does a norm
// that computes a residual join (ResidualFusion, planned first).

enum DepthwiseNormFusion {
    static func plan(_ planner: WorkspacePlanner) {
        for case let conv as Conv2d in planner.producers {
            guard conv.geometry.isDepthwise, let out = conv.outputRef, planner.readers(of: out).count == 1,
                  let norm = planner.readers(of: out).first as? BatchNorm2d, norm.join == nil else { continue }
            conv.channelNorm = norm
            norm.fusedConv = conv
        }
    }
}
