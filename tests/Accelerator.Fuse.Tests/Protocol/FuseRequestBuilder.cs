using System.Runtime.InteropServices;
using System.Text;
using Accelerator.Fuse.Protocol;

namespace Accelerator.Fuse.Tests.Protocol;

/// <summary>Builds requests byte for byte as the kernel sends them: a header whose length covers the arguments.</summary>
internal static class FuseRequestBuilder
{
    public static byte[] Build(FuseOpcode opcode, ulong unique, ulong nodeId, ReadOnlySpan<byte> arguments, uint uid = 0, uint gid = 0)
    {
        byte[] message = new byte[FuseProtocol.InHeaderSize + arguments.Length];
        var header = new FuseInHeader { Length = (uint)message.Length, Opcode = (uint)opcode, Unique = unique, NodeId = nodeId, Uid = uid, Gid = gid, Pid = 42 };
        MemoryMarshal.Write(message, in header);
        arguments.CopyTo(message.AsSpan(FuseProtocol.InHeaderSize));
        return message;
    }

    public static byte[] Build<T>(FuseOpcode opcode, ulong unique, ulong nodeId, T arguments, int size = -1, uint uid = 0, uint gid = 0)
        where T : unmanaged
    {
        var bytes = MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in arguments));
        return Build(opcode, unique, nodeId, size < 0 ? bytes : bytes[..size], uid, gid);
    }

    public static byte[] Name(string name) => [.. Encoding.UTF8.GetBytes(name), 0];

    public static byte[] Init(uint major = 7, uint minor = 45, FuseInitFlags flags = (FuseInitFlags)0x3FFFFFFFFUL, uint maxReadahead = 131072, ulong unique = 2)
    {
        bool extended = minor >= 36;
        var init = new FuseInitIn
        {
            Major = major,
            Minor = minor,
            MaxReadahead = maxReadahead,
            Flags = (uint)flags | (extended ? (uint)FuseInitFlags.InitExtended : 0),
            Flags2 = extended ? (uint)((ulong)flags >> 32) : 0,
        };
        return Build(FuseOpcode.Init, unique, 0, init, extended ? 64 : FuseProtocol.CompatInitInSize);
    }

    public static byte[] Read(FuseOpcode opcode, ulong unique, ulong nodeId, ulong handle, ulong offset, uint size)
        => Build(opcode, unique, nodeId, new FuseReadIn { FileHandle = handle, Offset = offset, Size = size });

    public static byte[] GetXattr(ulong unique, ulong nodeId, string name, uint size)
    {
        var fixedPart = new FuseGetXattrIn { Size = size };
        byte[] arguments = [.. MemoryMarshal.AsBytes(new ReadOnlySpan<FuseGetXattrIn>(in fixedPart)), .. Name(name)];
        return Build(FuseOpcode.GetXattr, unique, nodeId, arguments);
    }
}
