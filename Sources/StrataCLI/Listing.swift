import Glibc

/// How the listing commands print: aligned columns, sizes and ages as Docker prints them.
enum Listing {
    /// Columns padded to their widest cell and three spaces apart; the last is not padded.
    static func printTable(_ rows: [[String]]) {
        guard let columns = rows.first?.count else { return }
        let widths = (0..<columns).map { column in rows.map { $0[column].count }.max() ?? 0 }
        var text = ""
        for row in rows {
            for (index, cell) in row.enumerated() {
                text += index == columns - 1 ? cell : cell + String(repeating: " ", count: widths[index] + 3 - cell.count)
            }
            text += "\n"
        }
        print(text, terminator: "")
    }

    /// "12 B", "4.1 kB", "1.2 GB": decimal units, as Docker prints sizes.
    static func humanSize(_ bytes: Int64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB", "PB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1000, unit < units.count - 1 { value /= 1000; unit += 1 }
        if unit == 0 { return "\(bytes) B" }
        let tenths = Int((value * 10).rounded(.down))
        return "\(tenths / 10).\(tenths % 10) \(units[unit])"
    }

    /// "Less than a second ago", "About a minute ago", "3 hours ago": Docker's wording.
    static func ago(_ seconds: Int64) -> String {
        let hours = (Double(seconds) / 3600).rounded()
        let text: String
        switch seconds {
        case ..<1: text = "Less than a second"
        case 1: text = "1 second"
        case ..<60: text = "\(seconds) seconds"
        case ..<120: text = "About a minute"
        case ..<3600: text = "\(seconds / 60) minutes"
        case _ where hours == 1: text = "About an hour"
        case ..<(48 * 3600): text = "\(Int(hours)) hours"
        case ..<(14 * 86400): text = "\(seconds / 86400) days"
        case ..<(60 * 86400): text = "\(seconds / (7 * 86400)) weeks"
        case ..<(730 * 86400): text = "\(seconds / (30 * 86400)) months"
        default: text = "\(seconds / (365 * 86400)) years"
        }
        return text + " ago"
    }

    /// `seconds` since the epoch as RFC 3339 in UTC (`2026-11-29T10:00:00Z`), as the
    /// JSON listings of sessions and volumes write times.
    static func rfc3339(_ seconds: Int64) -> String {
        var time = time_t(seconds)
        var parts = tm()
        guard gmtime_r(&time, &parts) != nil else { return "1970-01-01T00:00:00Z" }
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }
}
