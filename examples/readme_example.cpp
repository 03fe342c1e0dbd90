// The example of README.md, compiled and run by CI. Keep the two in sync.
#include <cohort/cohort.hpp>

#include <chrono>
#include <cstdio>

using namespace std::chrono_literals;

cohort::task<int> fetch(int id) {  // stands in for real I/O
  co_await cohort::sleep_for(id * 10ms);
  co_return 10 * id;
}

cohort::task<> fetch_into(int id, int& total) {
  // 25 ms each: fetches 3 and 4 are cancelled at their sleep and add nothing.
  if (auto v = co_await cohort::move_on_after(25ms, fetch(id))) total += *v;
}

cohort::task<> fetch_all(int& total) {
  co_await cohort::with_task_group([&](cohort::task_group& g) -> cohort::task<> {
    for (int id = 1; id <= 4; ++id) g.spawn(fetch_into(id, total));
    co_return;  // the group waits here for all four children
  });
}

cohort::task<int> app() {
  int total = 0;
  co_await cohort::finally(fetch_all(total), [&]() -> cohort::task<> {
    co_await cohort::sleep_for(1ms);  // async cleanup: runs even if fetch_all is cancelled
    std::printf("total = %d\n", total);
  });
  co_return total;
}

int main() {
  return cohort::sync_wait(app()) == 10 + 20 ? 0 : 1;
}
