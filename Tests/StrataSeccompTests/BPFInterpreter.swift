@testable import StrataSeccomp

/// Runs a seccomp BPF program on a made-up `struct seccomp_data`, as the kernel would,
/// so tests can ask what a program does with a syscall without loading it into the
/// test process (which could not be undone).
struct BPFInterpreter {
    struct Instruction {
        var code: UInt16
        var jumpTrue: UInt8
        var jumpFalse: UInt8
        var k: UInt32
    }

    enum Failure: Error, CustomStringConvertible {
        case unsupported(code: UInt16, at: Int)
        case outOfBounds(at: Int)
        case badLoad(offset: UInt32, at: Int)

        var description: String {
            switch self {
            case .unsupported(let code, let at): return "instruction \(at) has an opcode this interpreter lacks: 0x\(String(code, radix: 16))"
            case .outOfBounds(let at): return "instruction \(at) jumps out of the program"
            case .badLoad(let offset, let at): return "instruction \(at) loads seccomp_data offset \(offset)"
            }
        }
    }

    let instructions: [Instruction]

    init(_ program: SeccompProgram) {
        var list: [Instruction] = []
        let b = program.bytes
        for start in stride(from: 0, to: b.count, by: 8) {
            list.append(Instruction(
                code: UInt16(b[start]) | UInt16(b[start + 1]) << 8, jumpTrue: b[start + 2], jumpFalse: b[start + 3],
                k: UInt32(b[start + 4]) | UInt32(b[start + 5]) << 8 | UInt32(b[start + 6]) << 16 | UInt32(b[start + 7]) << 24))
        }
        instructions = list
    }

    /// The kernel's return value for the call: `SECCOMP_RET_*` with its data.
    func run(arch: UInt32, nr: Int32, args: [UInt64] = []) throws -> UInt32 {
        var data = [UInt32](repeating: 0, count: 16)  // nr, arch, ip (2 words), args (2 words each)
        data[0] = UInt32(bitPattern: nr)
        data[1] = arch
        for (i, value) in args.prefix(6).enumerated() {
            data[4 + 2 * i] = UInt32(truncatingIfNeeded: value)
            data[5 + 2 * i] = UInt32(truncatingIfNeeded: value >> 32)
        }
        var a: UInt32 = 0, x: UInt32 = 0
        var memory = [UInt32](repeating: 0, count: 16)
        var pc = 0
        while pc < instructions.count {
            let ins = instructions[pc]
            let source = ins.code & 0x08 == 0 ? ins.k : x
            switch ins.code & 0x07 {
            case 0x00:  // LD
                switch ins.code {
                case 0x20:  // LD W ABS
                    guard ins.k % 4 == 0, Int(ins.k / 4) < data.count else { throw Failure.badLoad(offset: ins.k, at: pc) }
                    a = data[Int(ins.k / 4)]
                case 0x00: a = ins.k  // LD IMM
                case 0x60: a = memory[Int(ins.k & 15)]  // LD MEM
                default: throw Failure.unsupported(code: ins.code, at: pc)
                }
            case 0x01:  // LDX
                switch ins.code {
                case 0x01: x = ins.k
                case 0x61: x = memory[Int(ins.k & 15)]
                default: throw Failure.unsupported(code: ins.code, at: pc)
                }
            case 0x02: memory[Int(ins.k & 15)] = a
            case 0x03: memory[Int(ins.k & 15)] = x
            case 0x04:  // ALU
                switch ins.code & 0xf0 {
                case 0x00: a = a &+ source
                case 0x10: a = a &- source
                case 0x40: a |= source
                case 0x50: a &= source
                case 0xa0: a ^= source
                case 0x60: a = source < 32 ? a << source : 0
                case 0x70: a = source < 32 ? a >> source : 0
                default: throw Failure.unsupported(code: ins.code, at: pc)
                }
            case 0x05:  // JMP
                let taken: Bool
                switch ins.code & 0xf0 {
                case 0x00:
                    pc += 1 + Int(ins.k)
                    continue
                case 0x10: taken = a == source
                case 0x20: taken = a > source
                case 0x30: taken = a >= source
                case 0x40: taken = a & source != 0
                default: throw Failure.unsupported(code: ins.code, at: pc)
                }
                pc += 1 + Int(taken ? ins.jumpTrue : ins.jumpFalse)
                continue
            case 0x06:  // RET
                return ins.code & 0x18 == 0x10 ? a : ins.k
            case 0x07:  // MISC
                if ins.code & 0xf8 == 0x80 { a = x } else { x = a }
            default:
                throw Failure.unsupported(code: ins.code, at: pc)
            }
            pc += 1
        }
        throw Failure.outOfBounds(at: pc)
    }
}

/// Kernel return values the tests compare with.
enum SeccompReturn {
    static let allow: UInt32 = 0x7fff_0000
    static func errno(_ code: UInt32) -> UInt32 { 0x0005_0000 | code }
    static let killThread: UInt32 = 0
}
