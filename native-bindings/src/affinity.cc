// CPU affinity of the calling thread (Linux): sched_getaffinity/sched_setaffinity with
// pid 0, which the kernel reads as "this thread", and gettid. Called from a worker_thread,
// every function acts on that worker's OS thread only.
#ifndef __linux__
#error "portcullis_affinity needs Linux (sched_setaffinity, gettid)"
#endif

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <napi.h>

#include <string>
#include <vector>

namespace {

// Largest core id accepted: far above any machine, small enough that a typo like 1e9 is refused
// instead of allocating a huge mask.
constexpr long kMaxCpuId = 65535;

void ThrowErrno(Napi::Env env, const char* call, int err) {
  Napi::Error e = Napi::Error::New(env, std::string(call) + ": " + strerror(err));
  e.Set("errno", Napi::Number::New(env, err));
  e.ThrowAsJavaScriptException();
}

// The calling thread's mask. The kernel's mask can be larger than cpu_set_t's 1024 bits:
// grow the buffer until sched_getaffinity stops answering EINVAL.
bool ReadMask(Napi::Env env, std::vector<int>* out) {
  for (int ncpus = CPU_SETSIZE; ncpus <= (kMaxCpuId + 1) * 2; ncpus *= 2) {
    cpu_set_t* set = CPU_ALLOC(ncpus);
    if (set == nullptr) {
      ThrowErrno(env, "CPU_ALLOC", ENOMEM);
      return false;
    }
    size_t size = CPU_ALLOC_SIZE(ncpus);
    CPU_ZERO_S(size, set);
    if (sched_getaffinity(0, size, set) == 0) {
      for (int cpu = 0; cpu < ncpus; cpu++) {
        if (CPU_ISSET_S(cpu, size, set)) out->push_back(cpu);
      }
      CPU_FREE(set);
      return true;
    }
    int err = errno;
    CPU_FREE(set);
    if (err != EINVAL) {
      ThrowErrno(env, "sched_getaffinity", err);
      return false;
    }
  }
  ThrowErrno(env, "sched_getaffinity", EINVAL);
  return false;
}

Napi::Value GetAffinity(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<int> cpus;
  if (!ReadMask(env, &cpus)) return env.Undefined();
  Napi::Array result = Napi::Array::New(env, cpus.size());
  for (size_t i = 0; i < cpus.size(); i++) result.Set(static_cast<uint32_t>(i), Napi::Number::New(env, cpus[i]));
  return result;
}

Napi::Value SetAffinity(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsArray()) {
    Napi::TypeError::New(env, "setAffinity(cpus): cpus must be an array of core ids").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array list = info[0].As<Napi::Array>();
  if (list.Length() == 0) {
    Napi::TypeError::New(env, "setAffinity(cpus): at least one core id is needed").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::vector<long> cpus;
  long highest = 0;
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Value v = list.Get(i);
    double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0 && d <= kMaxCpuId) || d != static_cast<double>(static_cast<long>(d))) {
      Napi::RangeError::New(env, "setAffinity(cpus): core ids are integers from 0 to " + std::to_string(kMaxCpuId))
          .ThrowAsJavaScriptException();
      return env.Undefined();
    }
    long cpu = static_cast<long>(d);
    cpus.push_back(cpu);
    if (cpu > highest) highest = cpu;
  }
  int ncpus = static_cast<int>(highest) + 1;
  cpu_set_t* set = CPU_ALLOC(ncpus);
  if (set == nullptr) {
    ThrowErrno(env, "CPU_ALLOC", ENOMEM);
    return env.Undefined();
  }
  size_t size = CPU_ALLOC_SIZE(ncpus);
  CPU_ZERO_S(size, set);
  for (long cpu : cpus) CPU_SET_S(static_cast<int>(cpu), size, set);
  int rc = sched_setaffinity(0, size, set);
  int err = errno;
  CPU_FREE(set);
  // EINVAL here: none of the cores is online or allowed to this process (cpuset/cgroup).
  if (rc != 0) ThrowErrno(env, "sched_setaffinity", err);
  return env.Undefined();
}

Napi::Value ThreadId(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(syscall(SYS_gettid)));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("getAffinity", Napi::Function::New(env, GetAffinity, "getAffinity"));
  exports.Set("setAffinity", Napi::Function::New(env, SetAffinity, "setAffinity"));
  exports.Set("threadId", Napi::Function::New(env, ThreadId, "threadId"));
  return exports;
}

}  // namespace

NODE_API_MODULE(portcullis_affinity, Init)
