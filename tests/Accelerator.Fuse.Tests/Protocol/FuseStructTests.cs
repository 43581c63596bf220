using System.Runtime.CompilerServices;
using Accelerator.Fuse.Protocol;

namespace Accelerator.Fuse.Tests.Protocol;

public sealed class FuseStructTests
{
    // Sizes of the structures in linux/fuse.h (7.38), which the kernel checks replies against.
    public static TheoryData<string, int, int> Sizes => new()
    {
        { "fuse_in_header", Unsafe.SizeOf<FuseInHeader>(), 40 },
        { "fuse_out_header", Unsafe.SizeOf<FuseOutHeader>(), 16 },
        { "fuse_init_in", Unsafe.SizeOf<FuseInitIn>(), 64 },
        { "fuse_init_out", Unsafe.SizeOf<FuseInitOut>(), 64 },
        { "fuse_attr", Unsafe.SizeOf<FuseAttr>(), 88 },
        { "fuse_entry_out", Unsafe.SizeOf<FuseEntryOut>(), 128 },
        { "fuse_attr_out", Unsafe.SizeOf<FuseAttrOut>(), 104 },
        { "fuse_getattr_in", Unsafe.SizeOf<FuseGetAttrIn>(), 16 },
        { "fuse_open_in", Unsafe.SizeOf<FuseOpenIn>(), 8 },
        { "fuse_open_out", Unsafe.SizeOf<FuseOpenOut>(), 16 },
        { "fuse_release_in", Unsafe.SizeOf<FuseReleaseIn>(), 24 },
        { "fuse_read_in", Unsafe.SizeOf<FuseReadIn>(), 40 },
        { "fuse_getxattr_in", Unsafe.SizeOf<FuseGetXattrIn>(), 8 },
        { "fuse_getxattr_out", Unsafe.SizeOf<FuseGetXattrOut>(), 8 },
        { "fuse_access_in", Unsafe.SizeOf<FuseAccessIn>(), 8 },
        { "fuse_interrupt_in", Unsafe.SizeOf<FuseInterruptIn>(), 8 },
        { "fuse_forget_in", Unsafe.SizeOf<FuseForgetIn>(), 8 },
        { "fuse_forget_one", Unsafe.SizeOf<FuseForgetOne>(), 16 },
        { "fuse_batch_forget_in", Unsafe.SizeOf<FuseBatchForgetIn>(), 8 },
        { "fuse_kstatfs", Unsafe.SizeOf<FuseKstatfs>(), 80 },
        { "fuse_dirent (fixed part)", Unsafe.SizeOf<FuseDirent>(), FuseProtocol.DirentNameOffset },
        { "fuse_notify_retrieve_out", Unsafe.SizeOf<FuseNotifyRetrieveOut>(), 32 },
        { "fuse_notify_retrieve_in", Unsafe.SizeOf<FuseNotifyRetrieveIn>(), 40 },
    };

    [Theory]
    [MemberData(nameof(Sizes))]
    public void SizeOf_Structure_MatchesKernelHeader(string structure, int size, int expected)
    {
        Assert.True(size == expected, $"{structure}: {size} bytes, fuse.h says {expected}");
    }

    [Fact]
    public void FieldOffsets_InitOutAndEntryOut_MatchKernelHeader()
    {
        var init = new FuseInitOut();
        var entry = new FuseEntryOut();

        Assert.Equal(20, Offset(ref init, ref init.MaxWrite));
        Assert.Equal(24, Offset(ref init, ref init.TimeGranularity));
        Assert.Equal(28, Offset(ref init, ref init.MaxPages));
        Assert.Equal(32, Offset(ref init, ref init.Flags2));
        Assert.Equal(40, Offset(ref entry, ref Unsafe.As<FuseAttr, byte>(ref entry.Attr)));
        Assert.Equal(40 + 76, Offset(ref entry, ref entry.Attr.Rdev));
    }

    [Fact]
    public void DirentAlign_Lengths_RoundUpToEightBytes()
    {
        Assert.Equal([24, 32, 32, 40], new[] { 24, 25, 32, 33 }.Select(FuseProtocol.DirentAlign));
    }

    private static int Offset<TStruct, TField>(ref TStruct owner, ref TField field)
        => (int)Unsafe.ByteOffset(ref Unsafe.As<TStruct, byte>(ref owner), ref Unsafe.As<TField, byte>(ref field));
}
