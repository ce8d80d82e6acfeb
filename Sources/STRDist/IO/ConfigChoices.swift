// The config keys that name one of a set of choices, as types. Each is parsed
// once, where it enters (ConfigLoader.set); an unknown value is refused there
// in one line that names the key and lists the choices. Nothing downstream
// compares strings or falls back to a default in silence. Kinds and
// architectures are choices too, from their registries.

/// A value a choice key may take.
public protocol ConfigChoice: Sendable, CustomStringConvertible {
    /// The value as configs spell it.
    var configValue: String { get }
    /// Parses a spelling (aliases included), or nil.
    init?(configValue: String)
    /// The canonical spellings, for messages.
    static var configChoices: [String] { get }
}

extension ConfigChoice {
    public var description: String { configValue }
}

extension ConfigChoice where Self: RawRepresentable, Self.RawValue == String, Self: CaseIterable {
    public var configValue: String { rawValue }
    public init?(configValue: String) { self.init(rawValue: configValue) }
    public static var configChoices: [String] { allCases.map(\.rawValue) }
}

/// `optimizer`.
public enum OptimizerName: String, CaseIterable, ConfigChoice { case sgd, adam }

/// `lr_policy`: the reference's schedulers (LRPolicy).
public enum LRPolicyName: String, CaseIterable, ConfigChoice {
    case constant = "constant_lr", cosine = "cosine_lr", multistep = "multistep_lr", efficientnet = "efficientnet_lr"
}

/// `set`: which data the config's `data` folder holds.
public enum DataSet: String, CaseIterable, ConfigChoice { case fashionMNIST = "FashionMNIST", imageNet = "ImageNet" }

/// `bn_type`.
public enum BatchNormType: String, CaseIterable, ConfigChoice {
    case learned = "LearnedBatchNorm", nonAffine = "NonAffineBatchNorm"
}

/// `init`.
public enum InitName: String, CaseIterable, ConfigChoice {
    case kaimingNormal = "kaiming_normal", signedConstant = "signed_constant", unsignedConstant = "unsigned_constant", standard
}

/// `nonlinearity`: the gain of the fan-based inits.
public enum Nonlinearity: String, CaseIterable, ConfigChoice { case relu, linear }

/// `sparse_function`: STR's threshold function (the reference's only one).
public enum SparseFunction: String, CaseIterable, ConfigChoice { case sigmoid }

/// `sInit_type`: how STR's s starts (the reference's only one).
public enum SInitType: String, CaseIterable, ConfigChoice { case constant }

extension FanMode: ConfigChoice {}
extension SetPointSchedule: ConfigChoice {}
extension ConvAlgorithm: ConfigChoice {}
extension Precision: ConfigChoice {}

extension SparseKind: ConfigChoice {
    public var configValue: String { rawValue }
    public static var configChoices: [String] { allCases.map(\.rawValue) }
}

extension ConfigChoice {
    /// Parses a command's flag the way config keys are parsed: an unknown value is one line naming the
    /// flag, the closest choice and all of them.
    public static func parse(_ value: String, flag: String) throws -> Self {
        guard let v = Self(configValue: value) else {
            throw ConfigError("unknown \(flag) '\(value)' (did you mean '\(closest(value, in: configChoices))'? allowed: \(configChoices.joined(separator: ", ")))")
        }
        return v
    }
}
