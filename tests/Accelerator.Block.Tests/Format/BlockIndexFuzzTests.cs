using Accelerator.Block.Format;
using Accelerator.Testing.Fuzzing;
using ZstdSharp;

namespace Accelerator.Block.Tests.Format;

/// <summary>Random and mutated index blobs and bodies: a valid index or <see cref="InvalidDataException"/>, nothing else.</summary>
public sealed class BlockIndexFuzzTests
{
    [Fact]
    public void Read_RandomAndMutatedBlobs_ValidIndexOrInvalidData()
    {
        var random = new Random(6);
        byte[] seed = BlockIndexTests.Sample().ToBytes();
        for (int i = 0; i < 3000; i++)
        {
            byte[] input = i % 3 == 0 ? FuzzInput.RandomBytes(random, 200) : FuzzInput.Mutate(seed, random);
            ReadOrInvalid(() => BlockIndex.Read(input, maxBodyBytes: 1 << 20));
        }
    }

    [Fact]
    public void ReadBody_MutatedBodies_ValidIndexOrInvalidData()
    {
        var random = new Random(7);
        byte[] seed = BlockIndexTests.Sample().EncodeBody();
        using var compressor = new Compressor(1);
        for (int i = 0; i < 5000; i++)
        {
            byte[] body = FuzzInput.Mutate(seed, random);
            BlockIndex? index = ReadOrInvalid(() => BlockIndex.ReadBody(body));
            if (index is not null)
            {
                // Whatever was accepted is fully usable: flattening and re-encoding cannot fail.
                Assert.Equal(index.BlockCount, index.Flatten().Length);
                Assert.Equal(index.EncodeBody(), BlockIndex.ReadBody(index.EncodeBody()).EncodeBody());
            }
        }
    }

    private static BlockIndex? ReadOrInvalid(Func<BlockIndex> read)
    {
        try
        {
            return read();
        }
        catch (InvalidDataException)
        {
            return null;
        }
    }
}
