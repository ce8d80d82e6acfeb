// Warnings go to standard error, as every Unix tool's do: a user who pipes or redirects the
// progress lines (standard output) still sees them. One line each, `=> warning: …`, written whole.

import Foundation

public enum Warnings {
    /// Writes `=> warning: line` to standard error.
    public static func standardError(_ line: String) {
        FileHandle.standardError.write(Data(("=> warning: " + line + "\n").utf8))
    }
}
